import type { Logger } from 'pino';
import type { WebSocket, RawData } from 'ws';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  CLOSE_CODES,
  OLDEST_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  closeReason,
  agentFrameEnvelopeSchema,
  localRouteSchema,
  type AgentFrame,
  type AgentFrameType,
  type ControllerFrame,
} from '@caddyfleet/protocol';
import { FrameLimiter } from './frame-limiter';

/** Local routes validated per turn of the event loop. */
const VALIDATE_CHUNK = 200;
const localRouteChunkSchema = localRouteSchema.array();

type Handler<T extends AgentFrameType> = (frame: Extract<AgentFrame, { type: T }>) => Promise<void>;
export type AgentHandlers = { [T in AgentFrameType]: Handler<T> } & {
  /** A handler threw; the session stays open unless this closes it. */
  failed?: (err: unknown, frame: AgentFrameType) => void;
  /** The agent went over its frame rate and is being closed. */
  rateLimited?: () => void;
};

/**
 * One agent connection. Frames are parsed on arrival and handled strictly in order; anything before `hello`,
 * anything that is not a valid frame, and a second `hello` close the socket and change nothing.
 */
export class AgentSession {
  private helloDone = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly limiter = new FrameLimiter();
  lastFrameAt = Date.now();
  appliedRevision = 0;
  /** The protocol version this agent speaks (from its hello); older agents get only what they understand. */
  protocolVersion = PROTOCOL_VERSION;

  constructor(
    readonly nodeId: string,
    readonly nodeName: string,
    private readonly ws: WebSocket,
    private readonly log: Logger,
    private readonly handlers: AgentHandlers,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get ready(): boolean {
    return this.helloDone && !this.closed;
  }

  /** Whether a valid hello arrived (stays true after close): only such a connection made its node online. */
  get helloReceived(): boolean {
    return this.helloDone;
  }

  send(frame: ControllerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** A frame already serialised (sync and delta frames are assembled from each route's cached JSON). */
  sendText(text: string): void {
    if (this.closed) return;
    this.ws.send(text);
  }

  close(code: number, why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.warn({ node: this.nodeId, code, reason: why }, 'closing agent connection');
    try {
      this.ws.close(code, closeReason(why));
    } catch {
      this.ws.terminate();
    }
    // A peer that does not complete the closing handshake is cut off, so revocation takes effect within a second.
    setTimeout(() => this.ws.terminate(), 500).unref();
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.lastFrameAt = Date.now();
    if (isBinary) return this.close(CLOSE_CODES.badFrame, 'binary frames are not accepted');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return this.close(CLOSE_CODES.badFrame, 'frame is not JSON');
    }
    const parsed = agentFrameEnvelopeSchema.safeParse(json);
    if (!parsed.success) return this.close(CLOSE_CODES.badFrame, `invalid frame: ${describeIssue(parsed.error.issues[0])}`);
    const frame = parsed.data;
    if (!this.helloDone && frame.type !== 'hello') return this.close(CLOSE_CODES.badFrame, `expected hello first, got ${frame.type}`);
    if (this.helloDone && frame.type === 'hello') return this.close(CLOSE_CODES.badFrame, 'hello was already received');
    if (frame.type === 'hello') {
      if (frame.protocolVersion < OLDEST_PROTOCOL_VERSION || frame.protocolVersion > PROTOCOL_VERSION) {
        this.log.warn({ node: this.nodeId, agent: frame.protocolVersion, controller: PROTOCOL_VERSION }, 'protocol version mismatch');
        return this.close(
          CLOSE_CODES.protocolMismatch,
          `protocol version ${frame.protocolVersion} not supported; controller speaks ${OLDEST_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`,
        );
      }
      this.protocolVersion = frame.protocolVersion;
      this.helloDone = true;
    }
    const limited = this.limiter.check(frame.type);
    if (limited) {
      this.handlers.rateLimited?.();
      return this.close(CLOSE_CODES.rateLimited, `rate limit: ${limited}; reconnect later`);
    }
    this.queue = this.queue
      .then(async () => {
        let full = frame as AgentFrame;
        if (frame.type === 'local-routes') {
          if (this.closed) return;
          const routes = await this.validateLocalRoutes(frame.routes);
          if (!routes) return;
          full = { type: 'local-routes', routes };
        }
        await (this.handlers[full.type] as Handler<typeof full.type>)(full as never);
      })
      .catch((err: unknown) => {
        if (this.handlers.failed) this.handlers.failed(err, frame.type);
        else this.log.error({ err, node: this.nodeId, frame: frame.type }, 'agent frame handler failed');
      });
  }

  /** Validates local routes a chunk at a time, yielding in between; closes the socket at the first bad one. */
  private async validateLocalRoutes(raw: unknown[]): Promise<Extract<AgentFrame, { type: 'local-routes' }>['routes'] | null> {
    const out: Extract<AgentFrame, { type: 'local-routes' }>['routes'] = [];
    for (let start = 0; start < raw.length; start += VALIDATE_CHUNK) {
      if (start > 0) await yieldToEventLoop();
      if (this.closed) return null;
      const parsed = localRouteChunkSchema.safeParse(raw.slice(start, start + VALIDATE_CHUNK));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = issue ? ['routes', start + Number(issue.path[0] ?? 0), ...issue.path.slice(1)] : [];
        this.close(CLOSE_CODES.badFrame, `invalid frame: ${describeIssue(issue && { path, message: issue.message })}`);
        return null;
      }
      out.push(...parsed.data);
    }
    return out;
  }
}

function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  return issue ? `${issue.path.map(String).join('.')} ${issue.message}` : 'unknown';
}
