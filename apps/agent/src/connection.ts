/**
 * The agent's WebSocket to the controller. It reconnects forever with backoff, because a node must keep
 * serving and come back on its own after any controller outage, except when the controller says the key is
 * revoked or unknown: then retrying can never work and only a new enrollment helps.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import WebSocket, { type RawData } from 'ws';
import {
  CLOSE_CODES,
  closeReason,
  LIMITS,
  PROTOCOL_VERSION,
  controllerFrameSchema,
  type AgentFrame,
  type ControllerFrame,
  type ControllerFrameType,
} from '@caddyfleet/protocol';
import { Backoff, cancellableSleep } from './backoff';
import { controllerUrl } from './enroll';
import { readBody, refusedUpgrade, type Outcome } from './refused-upgrade';

export const CONNECT_PATH = '/api/v1/agent/connect';

/** 401 codes of the upgrade that mean "this key will never work again". */
export const FINAL_KEY_CODES = ['agent_key_revoked', 'agent_key_invalid'] as const;

/** Before `welcome` tells the real interval, silence for this long ends the attempt. */
const DEFAULT_HEARTBEAT_SECONDS = 10;
/** Missed heartbeats (of any frame from the controller) before the socket counts as half-open. */
const MISSED_HEARTBEATS = 3;
/** A connection that stayed up this long resets the backoff even without a welcome. */
const STABLE_CONNECTION_MS = 10_000;
/**
 * Local routes are published at most this often (changes in between go out together at its end): the
 * controller closes an agent that sends more than one local-routes frame a second for long.
 */
export const LOCAL_ROUTES_MIN_INTERVAL_MS = 1500;

type HelloFrame = Extract<AgentFrame, { type: 'hello' }>;
type StatusFrame = Extract<AgentFrame, { type: 'status' }>;
type LocalRoutesFrame = Extract<AgentFrame, { type: 'local-routes' }>;
type DockerRoutesFrame = Extract<AgentFrame, { type: 'docker-routes' }>;
export type SyncFrame = Extract<ControllerFrame, { type: 'sync' }>;
export type DeltaFrame = Extract<ControllerFrame, { type: 'delta' }>;

export interface ConnectionDeps {
  controller: string;
  agentKey: string;
  nodeId: string;
  log: Logger;
  backoff: Backoff;
  hello: () => Omit<HelloFrame, 'type'>;
  status: () => Promise<Omit<StatusFrame, 'type'>>;
  localRoutes: () => LocalRoutesFrame['routes'];
  /** This host's Docker sites; null while unknown (nothing is published then, so nothing is wiped). */
  dockerRoutes?: () => DockerRoutesFrame['routes'] | null;
  onSync: (frame: SyncFrame) => void;
  onDelta: (frame: DeltaFrame) => void;
}

/** One connection attempt's mutable state, handed to the frame handlers. */
interface Session {
  ws: WebSocket;
  welcomed: boolean;
  heartbeatSeconds: number;
  heartbeat: NodeJS.Timeout | null;
  idle: NodeJS.Timeout | null;
  /** Set when the agent itself closes for a reason the reconnect policy must know about. */
  closingFor: Outcome | null;
  /** This side's address of the TCP connection: the host's IP as the controller's network sees it. */
  localAddress: string | null;
}

type FrameHandler<T extends ControllerFrameType> = (frame: Extract<ControllerFrame, { type: T }>, session: Session) => void;
/** One handler per controller frame type: a frame type added to the protocol without a handler does not compile. */
type FrameHandlers = { [T in ControllerFrameType]: FrameHandler<T> };

export class ControllerConnection {
  /** Resolves when the controller refused this agent for good (revoked / unknown key). */
  readonly revoked: Promise<{ reason: string }>;
  connects = 0;
  lastConnectedAt: string | null = null;
  lastError: string | null = null;

  private resolveRevoked: (v: { reason: string }) => void = () => {};
  private session: Session | null = null;
  private stopped = false;
  private sleep: { cancel: () => void } | null = null;
  private loop: Promise<void> | null = null;
  private readonly url: string;
  private readonly handlers: FrameHandlers;
  private lastPublishAt = 0;
  private publishTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ConnectionDeps) {
    this.url = controllerUrl(deps.controller, CONNECT_PATH, 'ws');
    this.revoked = new Promise((resolve) => (this.resolveRevoked = resolve));
    this.handlers = {
      welcome: (f, s) => this.onWelcome(f, s),
      sync: (f) => this.deps.onSync(f),
      delta: (f) => this.deps.onDelta(f),
      ping: (f, s) => this.sendOn(s, { type: 'pong', t: f.t }),
      pong: () => {},
    };
  }

  /** True between `welcome` and the end of that connection. */
  get connected(): boolean {
    return this.session?.welcomed === true && this.session.ws.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleep?.cancel();
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = null;
    const s = this.session;
    if (s && s.ws.readyState !== WebSocket.CLOSED) {
      s.ws.close(1000, 'agent stopping');
      // A controller that does not answer the close handshake is cut off.
      const cut = setTimeout(() => s.ws.terminate(), 2000);
      await this.loop;
      clearTimeout(cut);
    } else {
      await this.loop;
    }
  }

  /** Sends on the current connection once `hello` went out; false when there is none (the frame is dropped). */
  send(frame: AgentFrame): boolean {
    const s = this.session;
    return s ? this.sendOn(s, frame) : false;
  }

  /** Reports counts right away (after an apply) instead of at the next heartbeat, so the fleet view is current. */
  reportStatus(): void {
    if (!this.connected) return;
    this.deps.status().then(
      (status) => this.send({ type: 'status', ...status }),
      (err: unknown) => this.deps.log.warn({ err: String(err) }, 'could not collect the status'),
    );
  }

  /** Publishes the full list of local routes (after welcome and after each local change), at most every 1.5 s. */
  publishLocalRoutes(): void {
    if (!this.connected || this.publishTimer) return;
    const wait = this.lastPublishAt + LOCAL_ROUTES_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.publishNow();
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      if (this.connected) this.publishNow();
    }, wait);
  }

  private publishNow(): void {
    this.lastPublishAt = Date.now();
    this.send({ type: 'local-routes', routes: this.deps.localRoutes() });
  }

  /** Publishes every Docker site of this host (after welcome and after each change), once they are known. */
  publishDockerRoutes(): void {
    if (!this.connected || !this.deps.dockerRoutes) return;
    const routes = this.deps.dockerRoutes();
    if (routes !== null) this.send({ type: 'docker-routes', routes });
  }

  /** The local address of the live connection to the controller (IPv4-mapped addresses unwrapped). */
  get localAddress(): string | null {
    const address = this.session?.localAddress ?? null;
    return address?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') ?? null;
  }

  private sendOn(s: Session, frame: AgentFrame): boolean {
    if (s.ws.readyState !== WebSocket.OPEN) return false;
    s.ws.send(JSON.stringify(frame));
    return true;
  }

  private async run(): Promise<void> {
    const { log, backoff } = this.deps;
    while (!this.stopped) {
      const outcome = await this.connectOnce();
      if (this.stopped) break;
      let delay: number;
      switch (outcome.kind) {
        case 'revoked':
          this.lastError = outcome.reason;
          log.error({ reason: outcome.reason }, outcome.reason);
          this.resolveRevoked({ reason: outcome.reason });
          return;
        case 'mismatch':
          // The other side will not change until someone upgrades one of them: knock rarely.
          delay = backoff.slow();
          this.lastError = outcome.message;
          log.error({ agentProtocol: PROTOCOL_VERSION, controller: outcome.message, retryInMs: delay }, `protocol mismatch with the controller: ${outcome.message}; retrying slowly`);
          break;
        case 'failed':
          delay = backoff.next();
          this.lastError = outcome.error;
          log.warn({ err: outcome.error, retryInMs: delay }, 'could not connect to the controller; retrying');
          break;
        case 'closed':
          if (outcome.welcomed || outcome.upMs > STABLE_CONNECTION_MS) backoff.reset();
          delay = backoff.next();
          this.lastError = `connection closed (${outcome.code}${outcome.reason ? ` ${outcome.reason}` : ''})`;
          log.warn({ code: outcome.code, reason: outcome.reason, retryInMs: delay }, 'disconnected from the controller; reconnecting');
          break;
      }
      const sleep = cancellableSleep(delay);
      this.sleep = sleep;
      await sleep.promise;
      this.sleep = null;
    }
  }

  private connectOnce(): Promise<Outcome> {
    const { log } = this.deps;
    return new Promise<Outcome>((resolve) => {
      const ws = new WebSocket(this.url, {
        headers: { Authorization: `Bearer ${this.deps.agentKey}` },
        maxPayload: LIMITS.wsFrameBytes,
        handshakeTimeout: 15_000,
        // Redirects would carry the agent key to wherever they point.
        followRedirects: false,
      });
      const session: Session = { ws, welcomed: false, heartbeatSeconds: DEFAULT_HEARTBEAT_SECONDS, heartbeat: null, idle: null, closingFor: null, localAddress: null };
      ws.on('upgrade', (res: IncomingMessage) => {
        session.localAddress = res.socket.localAddress ?? null;
      });
      this.session = session;
      let openedAt = 0;
      let lastError = '';
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        if (session.heartbeat) clearInterval(session.heartbeat);
        if (session.idle) clearTimeout(session.idle);
        if (this.session === session) this.session = null;
        resolve(outcome);
      };

      ws.on('unexpected-response', (req, res: IncomingMessage) => {
        void readBody(res).then((body) => {
          ws.terminate();
          settle(refusedUpgrade(res.statusCode ?? 0, body));
        });
      });
      ws.on('open', () => {
        openedAt = Date.now();
        this.connects++;
        this.armIdle(session);
        this.sendOn(session, { type: 'hello', ...this.deps.hello() });
      });
      ws.on('message', (data, isBinary) => this.onMessage(session, data, isBinary));
      ws.on('error', (err) => {
        lastError = err.message;
        log.debug({ err: err.message }, 'controller socket error');
      });
      ws.on('close', (code, reasonBuf) => {
        const reason = reasonBuf.toString('utf8');
        if (session.closingFor) return settle(session.closingFor);
        if (!openedAt) return settle({ kind: 'failed', error: lastError || `connection closed before the upgrade (${code})` });
        if (code === CLOSE_CODES.revoked) {
          const base = 'agent key revoked by the controller; enroll again with a new token';
          // The controller's own reason, unless it only repeats ours.
          const extra = reason && !base.startsWith(reason) ? ` (${reason})` : '';
          return settle({ kind: 'revoked', reason: base + extra });
        }
        if (code === CLOSE_CODES.protocolMismatch) return settle({ kind: 'mismatch', message: reason || 'protocol mismatch' });
        if (code === CLOSE_CODES.replaced) log.warn('the controller replaced this connection with a newer one of the same node; is another agent using this key?');
        settle({ kind: 'closed', code, reason, welcomed: session.welcomed, upMs: Date.now() - openedAt });
      });
    });
  }

  /** Ends a connection the controller stopped talking on (half-open TCP, stuck proxy). */
  private armIdle(s: Session): void {
    if (s.idle) clearTimeout(s.idle);
    const ms = MISSED_HEARTBEATS * s.heartbeatSeconds * 1000;
    s.idle = setTimeout(() => {
      this.deps.log.warn({ silentForMs: ms }, 'nothing from the controller for 3 heartbeats; dropping the connection');
      s.ws.terminate();
    }, ms);
  }

  private onMessage(s: Session, data: RawData, isBinary: boolean): void {
    this.armIdle(s);
    const bad = (why: string) => {
      this.deps.log.error({ why }, 'invalid frame from the controller; closing the connection');
      try {
        s.ws.close(CLOSE_CODES.badFrame, closeReason(why));
      } catch {
        s.ws.terminate();
      }
    };
    if (isBinary) return bad('binary frames are not accepted');
    let json: unknown;
    try {
      json = JSON.parse(rawText(data));
    } catch {
      return bad('frame is not JSON');
    }
    const parsed = controllerFrameSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return bad(`invalid frame: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'unknown'}`);
    }
    const frame = parsed.data;
    (this.handlers[frame.type] as FrameHandler<typeof frame.type>)(frame as never, s);
  }

  private onWelcome(f: Extract<ControllerFrame, { type: 'welcome' }>, s: Session): void {
    const { log } = this.deps;
    if (f.protocolVersion !== PROTOCOL_VERSION) {
      const message = `controller speaks protocol ${f.protocolVersion}, agent speaks ${PROTOCOL_VERSION}`;
      s.closingFor = { kind: 'mismatch', message };
      s.ws.close(CLOSE_CODES.protocolMismatch, closeReason(message));
      return;
    }
    if (f.nodeId !== this.deps.nodeId) log.warn({ expected: this.deps.nodeId, got: f.nodeId }, 'the controller knows this agent under another node id');
    s.welcomed = true;
    s.heartbeatSeconds = f.heartbeatSeconds;
    this.deps.backoff.reset();
    this.lastConnectedAt = new Date().toISOString();
    this.lastError = null;
    log.info({ controller: this.deps.controller, nodeId: f.nodeId, heartbeatSeconds: f.heartbeatSeconds }, 'connected to the controller');
    this.armIdle(s);
    const sendStatus = () =>
      this.deps.status().then(
        (status) => this.sendOn(s, { type: 'status', ...status }),
        (err: unknown) => log.warn({ err: String(err) }, 'could not collect the status'),
      );
    s.heartbeat = setInterval(() => {
      void sendStatus();
      this.sendOn(s, { type: 'ping', t: Date.now() });
    }, f.heartbeatSeconds * 1000);
    void sendStatus();
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = null;
    this.lastPublishAt = Date.now();
    this.sendOn(s, { type: 'local-routes', routes: this.deps.localRoutes() });
    this.publishDockerRoutes();
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
