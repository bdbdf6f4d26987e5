/**
 * A scripted fake controller for the agent's protocol tests (tests/agent-connection*.test.ts): real HTTP + WebSocket
 * on 127.0.0.1 with the enrollment endpoint and the agent socket, switchable behaviour (enrollment answer, refused
 * upgrades, welcome or silence). Every frame the agent sends is parsed with the protocol's agentFrameSchema,
 * exactly as the controller does.
 *
 *   const h = useFakeControllerAgents();            // inside a describe: temp dir, upstream, cleanup hooks
 *   await h.freshController((f) => (f.welcome = null));
 *   const { agent, logs } = await h.setup();        // a real agent (in-process) with a managed /usr/bin/caddy
 *   const conn = await h.fake.conn(1);
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { agentFrameSchema, PROTOCOL_VERSION, type AgentFrame, type ControllerFrame } from '@caddyfleet/protocol';
import { loadAgentOptions, startAgent, type AgentFlags, type RunningAgent } from '@caddyfleet/agent';
import { captureLogger, startUpstream, type CapturedLogger, type Upstream } from '../../apps/agent/test-support/fixtures';
import { freePort, tempDir, waitFor, type TempDir } from './processes';

export const CADDY = '/usr/bin/caddy';
export const AGENT_KEY = 'cfa_fake_agent_key_0123456789abcdef';

export class FakeConnection {
  readonly frames: AgentFrame[] = [];
  readonly invalid: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly openedAt = Date.now();

  constructor(
    readonly ws: WebSocket,
    readonly headers: http.IncomingHttpHeaders,
  ) {
    ws.on('message', (data) => {
      const parsed = agentFrameSchema.safeParse(JSON.parse(String(data)));
      if (parsed.success) this.frames.push(parsed.data);
      else this.invalid.push(`${String(data).slice(0, 200)}: ${parsed.error.message}`);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  send(frame: ControllerFrame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  of<T extends AgentFrame['type']>(type: T): Extract<AgentFrame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<AgentFrame, { type: T }> => f.type === type);
  }

  /** Waits for the n-th (1-based) frame of a type that matches `pred`. */
  frame<T extends AgentFrame['type']>(type: T, pred: (f: Extract<AgentFrame, { type: T }>) => boolean = () => true, timeoutMs = 10_000) {
    return waitFor(() => this.of(type).find(pred), { timeoutMs, description: `a ${type} frame` });
  }
}

/** A scripted controller: enrollment endpoint plus the agent WebSocket, with switchable behaviour. */
export class FakeController {
  readonly server = http.createServer((req, res) => this.onRequest(req, res));
  readonly wss = new WebSocketServer({ noServer: true });
  readonly connections: FakeConnection[] = [];
  readonly upgrades: { at: number; authorization: string | undefined }[] = [];
  readonly enrollRequests: unknown[] = [];
  enroll: (body: unknown) => { status: number; body: unknown } = () => ({ status: 200, body: { nodeId: 'node_fake', agentKey: AGENT_KEY } });
  rejectUpgrade: { status: number; code: string; message: string } | null = null;
  /** Answer hello with this welcome (null: say nothing). */
  welcome: { heartbeatSeconds: number; protocolVersion?: number } | null = { heartbeatSeconds: 1 };
  url = '';

  async start(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades.push({ at: Date.now(), authorization: req.headers.authorization });
      if (this.rejectUpgrade) {
        const { status, code, message } = this.rejectUpgrade;
        const body = JSON.stringify({ error: { code, message } });
        socket.end(`HTTP/1.1 ${status} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new FakeConnection(ws, req.headers);
        this.connections.push(conn);
        ws.once('message', () => {
          const w = this.welcome;
          if (w) conn.send({ type: 'welcome', protocolVersion: w.protocolVersion ?? PROTOCOL_VERSION, nodeId: 'node_fake', heartbeatSeconds: w.heartbeatSeconds });
        });
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v1/agent/enroll') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      this.enrollRequests.push(body);
      const answer = this.enroll(body);
      res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  }

  conn(n: number): Promise<FakeConnection> {
    return waitFor(() => this.connections[n - 1], { timeoutMs: 15_000, description: `agent connection #${n}` });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface FakeControllerAgents {
  /** The current fake controller (made by freshController). */
  readonly fake: FakeController;
  readonly dir: TempDir;
  /** Answers `U <host><url>`. */
  readonly upstream: Upstream;
  /** HTTP port of the last agent's Caddy (127.0.0.1). */
  readonly httpPort: number;
  /** Agents stopped after each test; setup() adds its own. */
  readonly running: RunningAgent[];
  /** Sets up a fresh fake controller before the agent starts (for tests that script it first). */
  freshController(configure?: (f: FakeController) => void): Promise<void>;
  /** Starts an agent against the current fake controller (create it first with freshController). */
  setup(flags?: AgentFlags, stateDir?: string): Promise<{ agent: RunningAgent; logs: CapturedLogger; stateDir: string }>;
}

/** Registers the hooks (temp dir and upstream for the file, agents and fake controller stopped after each test). */
export function useFakeControllerAgents(): FakeControllerAgents {
  let fake: FakeController | undefined;
  let dir: TempDir | undefined;
  let upstream: Upstream | undefined;
  let httpPort = 0;
  let stateCounter = 0;
  const running: RunningAgent[] = [];

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-agent-conn-');
    upstream = await startUpstream('U');
  });

  afterAll(async () => {
    await upstream?.close();
    await dir?.cleanup();
  });

  afterEach(async () => {
    for (const a of running.splice(0)) await a.stop();
    await fake?.close();
    fake = undefined;
  });

  const h: FakeControllerAgents = {
    get fake() {
      if (!fake) throw new Error('no fake controller: call freshController() first');
      return fake;
    },
    get dir() {
      return dir!;
    },
    get upstream() {
      return upstream!;
    },
    get httpPort() {
      return httpPort;
    },
    running,
    async freshController(configure = () => {}) {
      fake = new FakeController();
      configure(fake);
      await fake.start();
    },
    async setup(flags = {}, stateDir) {
      httpPort = await freePort();
      const sd = stateDir ?? join(dir!.path, `s${++stateCounter}`);
      const logs = captureLogger();
      const opts = loadAgentOptions(
        {
          controller: h.fake.url,
          token: 'cfe_enrollment_token_0123456789',
          stateDir: sd,
          caddyBin: CADDY,
          name: 'edge-test',
          httpListen: `127.0.0.1:${httpPort}`,
          httpsListen: `127.0.0.1:${await freePort()}`,
          driftCheckSeconds: 0,
          reconnectMinMs: 50,
          reconnectMaxMs: 300,
          ...flags,
        },
        {},
      );
      const agent = await startAgent(opts, { logger: logs.log });
      running.push(agent);
      return { agent, logs, stateDir: sd };
    },
  };
  return h;
}
