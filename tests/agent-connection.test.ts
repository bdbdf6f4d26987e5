/**
 * The agent's side of the controller protocol, against a scripted fake controller (real HTTP + WebSocket on
 * 127.0.0.1) and a real managed Caddy: enrollment, hello/welcome, heartbeats, syncs and acks, local-routes,
 * bad frames, half-open connections, revocation and protocol mismatch. Every frame the agent sends is parsed
 * with the protocol's agentFrameSchema, exactly as the controller does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { agentFrameSchema, CLOSE_CODES, PROTOCOL_VERSION, type AgentFrame, type ControllerFrame } from '@caddyfleet/protocol';
import { loadAgentOptions, startAgent, AGENT_VERSION, EnrollError, type AgentFlags, type RunningAgent } from '@caddyfleet/agent';
import { StateStore } from '../apps/agent/src/state';
import { bodyOf, captureLogger, makeRoute as centralRoute, startUpstream, type CapturedLogger, type Upstream } from '../apps/agent/test-support/fixtures';
import { freePort, requireBinary, sleep, tempDir, waitFor, type TempDir } from './helpers/processes';

const CADDY = '/usr/bin/caddy';
const hasCaddy = requireBinary(CADDY, 'caddy');
const AGENT_KEY = 'cfa_fake_agent_key_0123456789abcdef';

class FakeConnection {
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
class FakeController {
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

describe.skipIf(!hasCaddy)('agent ↔ controller protocol (fake controller, real Caddy)', () => {
  let fake: FakeController;
  let dir: TempDir;
  let upstream: Upstream;
  let httpPort = 0;
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
    fake = undefined as unknown as FakeController;
  });

  let stateCounter = 0;
  /** Starts an agent against the current fake controller (create it first with freshController). */
  async function setup(flags: AgentFlags = {}, stateDir?: string): Promise<{ agent: RunningAgent; logs: CapturedLogger; stateDir: string }> {
    httpPort = await freePort();
    const sd = stateDir ?? join(dir.path, `s${++stateCounter}`);
    const logs = captureLogger();
    const opts = loadAgentOptions(
      {
        controller: fake.url,
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
  }

  /** Sets up a fresh fake controller before the agent starts (for tests that script it first). */
  async function freshController(configure: (f: FakeController) => void = () => {}): Promise<void> {
    fake = new FakeController();
    configure(fake);
    await fake.start();
  }

  it('enrolls on first run, saves agent.json 0600, then connects with the key and says hello', async () => {
    await freshController();
    const { agent, stateDir } = await setup();
    expect(agent.nodeId).toBe('node_fake');
    expect(fake.enrollRequests).toEqual([{ token: 'cfe_enrollment_token_0123456789', name: 'edge-test', hostname: expect.any(String) }]);
    const store = new StateStore(stateDir);
    expect(await store.readAgent()).toEqual({ controller: fake.url, nodeId: 'node_fake', agentKey: AGENT_KEY });
    expect((await stat(store.agentFile)).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);

    const conn = await fake.conn(1);
    expect(conn.headers.authorization).toBe(`Bearer ${AGENT_KEY}`);
    const hello = await conn.frame('hello');
    expect(hello).toEqual({
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      agentVersion: AGENT_VERSION,
      caddyVersion: expect.stringMatching(/^v?2\.\d+/),
      appliedRevision: 0,
      // `caddy list-modules` of Debian's Caddy, sorted, and the agent's own listener ports.
      caddyModules: expect.arrayContaining(['http.handlers.reverse_proxy', 'tls']),
      listeners: { http: httpPort, https: expect.any(Number) },
    });
    expect(hello.caddyModules).not.toContain('layer4');
    expect([...(hello.caddyModules ?? [])].sort()).toEqual(hello.caddyModules);
    expect(conn.frames[0]?.type).toBe('hello');
    expect(conn.invalid).toEqual([]);
  });

  it('after welcome: sends status and local-routes, then a status and a ping every heartbeat, and answers pings', async () => {
    await freshController();
    const { agent } = await setup();
    const conn = await fake.conn(1);
    const status = await conn.frame('status');
    expect(status).toMatchObject({ routeCount: 0, certCount: 0, appliedRevision: 0, drift: false, caddyVersion: expect.any(String) });
    expect(await conn.frame('local-routes')).toEqual({ type: 'local-routes', routes: [] });
    await waitFor(() => agent.status().connected, { description: 'agent reports connected' });

    await conn.frame('ping', () => true, 5000);
    await waitFor(() => conn.of('status').length >= 2, { timeoutMs: 5000, description: 'a heartbeat status' });
    conn.send({ type: 'ping', t: 4242 });
    expect(await conn.frame('pong')).toEqual({ type: 'pong', t: 4242 });
    expect(conn.invalid).toEqual([]);
  });

  it('applies a sync and acks it; an unchanged sync is acked without a /load; local changes are published', async () => {
    await freshController();
    const { agent } = await setup();
    const conn = await fake.conn(1);
    await conn.frame('local-routes');
    const route = centralRoute('r_1', { domains: ['synced.test'], upstreams: [{ host: '127.0.0.1', port: upstream.port }] });
    conn.send({ type: 'sync', revision: 1, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 1)).toEqual({ type: 'ack', revision: 1, ok: true, routeErrors: [] });
    expect(await bodyOf(httpPort, 'synced.test')).toBe('U synced.test/');
    const loads = agent.status().loadCount;

    conn.send({ type: 'sync', revision: 2, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 2)).toMatchObject({ ok: true });
    expect(agent.status().loadCount).toBe(loads);
    expect(agent.status().appliedRevision).toBe(2);

    const added = await agent.localRoutes.add({ kind: 'proxy', domains: ['synced.test'], upstreams: [{ host: '127.0.0.1', port: 1 }], tls: 'off' });
    expect(added.route.lastError).toBe('domain synced.test conflicts with central route r_1');
    const published = await conn.frame('local-routes', (f) => f.routes.length === 1);
    expect(published.routes[0]).toMatchObject({ id: added.route.id, kind: 'proxy', scope: 'local_only', domains: ['synced.test'] });
    expect(published.routes[0]).not.toHaveProperty('createdAt');

    // The next sync's ack carries the conflict.
    conn.send({ type: 'sync', revision: 3, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 3)).toMatchObject({
      ok: true,
      routeErrors: [{ routeId: added.route.id, error: 'domain synced.test conflicts with central route r_1' }],
    });
    expect(conn.invalid).toEqual([]);
  });

  it('applies deltas on top of what it received; a delta from another base changes nothing and asks for a full sync', async () => {
    await freshController();
    const { agent } = await setup();
    const conn = await fake.conn(1);
    await conn.frame('local-routes');
    const one = centralRoute('r_d1', { domains: ['d1.test'], upstreams: [{ host: '127.0.0.1', port: upstream.port }] });
    const two = centralRoute('r_d2', { domains: ['d2.test'], upstreams: [{ host: '127.0.0.1', port: upstream.port }] });
    conn.send({ type: 'sync', revision: 1, routes: [one] });
    await conn.frame('ack', (a) => a.revision === 1);
    conn.send({ type: 'delta', base: 1, revision: 2, upsert: [two], remove: [] });
    expect(await conn.frame('ack', (a) => a.revision === 2)).toEqual({ type: 'ack', revision: 2, ok: true, routeErrors: [] });
    expect(await bodyOf(httpPort, 'd2.test')).toBe('U d2.test/');
    expect(await bodyOf(httpPort, 'd1.test')).toBe('U d1.test/');

    conn.send({ type: 'delta', base: 2, revision: 4, upsert: [], remove: ['r_d1'] });
    await conn.frame('ack', (a) => a.revision === 4);
    expect(agent.status().routeCount).toBe(1);
    expect(await bodyOf(httpPort, 'd2.test')).toBe('U d2.test/');

    // Based on a revision this agent does not have: nothing applied, nothing acked, a resync asked for.
    const loads = agent.status().loadCount;
    conn.send({ type: 'delta', base: 3, revision: 5, upsert: [one], remove: [] });
    expect(await conn.frame('resync')).toEqual({ type: 'resync', revision: 4 });
    expect(conn.of('ack').some((a) => a.revision === 5)).toBe(false);
    expect(agent.status().loadCount).toBe(loads);
    expect(agent.status().appliedRevision).toBe(4);
    conn.send({ type: 'sync', revision: 5, routes: [one, two] });
    await conn.frame('ack', (a) => a.revision === 5);
    expect(agent.status().routeCount).toBe(2);
    expect(conn.invalid).toEqual([]);
  });

  it('reports its applied revision from applied.json in hello after a restart', async () => {
    await freshController();
    const first = await setup();
    const conn = await fake.conn(1);
    conn.send({ type: 'sync', revision: 5, routes: [centralRoute('r_5', { domains: ['five.test'], upstreams: [{ host: '127.0.0.1', port: upstream.port }] })] });
    await conn.frame('ack', (a) => a.revision === 5);
    await first.agent.stop();
    running.splice(running.indexOf(first.agent), 1);
    await conn.closed;

    const second = await setup({ token: undefined }, first.stateDir);
    const conn2 = await fake.conn(2);
    expect(await conn2.frame('hello')).toMatchObject({ appliedRevision: 5 });
    expect(fake.enrollRequests).toHaveLength(1);
    expect(await bodyOf(httpPort, 'five.test')).toBe('U five.test/');
    expect(second.agent.status().appliedRevision).toBe(5);
  });

  it('closes with 4001 on a frame that is not valid, and reconnects', async () => {
    await freshController();
    await setup();
    const conn = await fake.conn(1);
    await conn.frame('status');
    conn.send('this is not json');
    expect(await conn.closed).toMatchObject({ code: CLOSE_CODES.badFrame });
    const conn2 = await fake.conn(2);
    await conn2.frame('hello');
    conn2.send({ type: 'sync', revision: 1, routes: 'nope' } as unknown as ControllerFrame);
    expect((await conn2.closed).code).toBe(CLOSE_CODES.badFrame);
    await fake.conn(3);
  });

  it('drops a connection the controller went silent on (3 heartbeats) and reconnects', async () => {
    await freshController();
    const { logs } = await setup();
    const conn = await fake.conn(1);
    await conn.frame('status');
    // The fake controller never sends anything after welcome (heartbeat 1 s): the agent must give up after ~3 s.
    const closed = await Promise.race([conn.closed, sleep(8000).then(() => null)]);
    expect(closed).not.toBeNull();
    const silentFor = Date.now() - conn.openedAt;
    expect(silentFor).toBeGreaterThanOrEqual(2500);
    await fake.conn(2);
    expect(logs.text()).toContain('nothing from the controller for 3 heartbeats');
  });

  it('stops for good when the controller closes with 4403 (revoked)', async () => {
    await freshController();
    const { agent, logs } = await setup();
    const conn = await fake.conn(1);
    await conn.frame('status');
    conn.ws.close(CLOSE_CODES.revoked, 'agent key revoked by the controller');
    const done = await Promise.race([agent.done, sleep(5000).then(() => null)]);
    expect(done?.reason).toMatch(/agent key revoked by the controller; enroll again with a new token/);
    await sleep(1000);
    expect(fake.connections).toHaveLength(1);
    expect(agent.status().connected).toBe(false);
    expect(logs.text()).toMatch(/agent key revoked by the controller; enroll again with a new token/);
  });

  it.each([
    ['agent_key_revoked', 'this agent key was revoked; enroll again with a new token', /agent key revoked by the controller/],
    ['agent_key_invalid', 'unknown agent key', /agent key rejected by the controller \(unknown agent key\)/],
  ])('stops for good when the upgrade is refused with 401 %s', async (code, message, expected) => {
    await freshController((f) => (f.rejectUpgrade = { status: 401, code, message }));
    const { agent } = await setup();
    const done = await Promise.race([agent.done, sleep(5000).then(() => null)]);
    expect(done?.reason).toMatch(expected);
    await sleep(1000);
    expect(fake.upgrades).toHaveLength(1);
  });

  it('keeps retrying other refusals (401 with another code, 503)', async () => {
    await freshController((f) => (f.rejectUpgrade = { status: 401, code: 'unauthorized', message: 'try later' }));
    const { agent, logs } = await setup();
    await waitFor(() => fake.upgrades.length >= 3, { timeoutMs: 10_000, description: '3 upgrade attempts' });
    fake.rejectUpgrade = { status: 503, code: 'unavailable', message: 'starting' };
    const n = fake.upgrades.length;
    await waitFor(() => fake.upgrades.length >= n + 2, { timeoutMs: 10_000, description: 'more attempts' });
    fake.rejectUpgrade = null;
    await fake.conn(1);
    await waitFor(() => agent.status().connected, { description: 'connected in the end' });
    expect(logs.text()).toContain('could not connect to the controller; retrying');
  });

  it('retries slowly (near the maximum backoff) after a protocol mismatch', async () => {
    await freshController((f) => (f.welcome = { heartbeatSeconds: 1, protocolVersion: PROTOCOL_VERSION + 1 }));
    const { logs } = await setup({ reconnectMinMs: 50, reconnectMaxMs: 2000 });
    const conn = await fake.conn(1);
    const closed = await conn.closed;
    // Next connection: no welcome; the fake refuses the hello with 4000 itself (below).
    fake.welcome = null;
    expect(closed.code).toBe(CLOSE_CODES.protocolMismatch);
    expect(closed.reason).toContain(`agent speaks ${PROTOCOL_VERSION}`);
    const closedAt = Date.now();
    await fake.conn(2);
    // slow(): uniform in [max/2, max] = [1000, 2000] ms; plain backoff would be ≤ 50 ms here.
    expect(fake.connections[1]!.openedAt - closedAt).toBeGreaterThanOrEqual(900);
    expect(logs.text()).toContain(`protocol mismatch with the controller: controller speaks protocol ${PROTOCOL_VERSION + 1}, agent speaks ${PROTOCOL_VERSION}`);

    // Also when the controller is the one closing with 4000 (it refused our hello).
    const conn2 = fake.connections[1]!;
    await conn2.frame('hello');
    conn2.ws.close(CLOSE_CODES.protocolMismatch, 'protocol version 1 not supported; controller speaks 2');
    await conn2.closed;
    const at = Date.now();
    await fake.conn(3);
    expect(fake.connections[2]!.openedAt - at).toBeGreaterThanOrEqual(900);
    expect(logs.text()).toContain('protocol version 1 not supported; controller speaks 2');
  });

  it("refuses to start when enrollment is refused, with the controller's message, and writes no agent.json", async () => {
    await freshController(
      (f) => (f.enroll = () => ({ status: 401, body: { error: { code: 'enrollment_token_used', message: 'this enrollment token was already used' } } })),
    );
    const stateDir = join(dir.path, 'refused');
    const err = await setup({}, stateDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollError);
    expect((err as Error).message).toBe('enrollment refused by the controller (HTTP 401 enrollment_token_used): this enrollment token was already used');
    expect(fake.enrollRequests).toHaveLength(1);
    expect(await new StateStore(stateDir).readAgent()).toBeNull();
  });

  it('uses explicit credentials (standalone mode) without enrolling or writing agent.json', async () => {
    await freshController();
    httpPort = await freePort();
    const stateDir = join(dir.path, 'standalone');
    const opts = loadAgentOptions(
      { controller: fake.url, stateDir, caddyBin: CADDY, httpListen: `127.0.0.1:${httpPort}`, httpsListen: `127.0.0.1:${await freePort()}`, reconnectMinMs: 50, reconnectMaxMs: 300 },
      {},
    );
    const agent = await startAgent(opts, { logger: captureLogger().log, credentials: { nodeId: 'local', agentKey: 'cfa_standalone_key_0123456789abcdef' } });
    running.push(agent);
    const conn = await fake.conn(1);
    expect(conn.headers.authorization).toBe('Bearer cfa_standalone_key_0123456789abcdef');
    expect(fake.enrollRequests).toHaveLength(0);
    expect(await new StateStore(stateDir).readAgent()).toBeNull();
  });

  it('closes the connection with 1000 on stop()', async () => {
    await freshController();
    const { agent } = await setup();
    const conn = await fake.conn(1);
    await conn.frame('status');
    await agent.stop();
    expect(await conn.closed).toMatchObject({ code: 1000, reason: 'agent stopping' });
    expect(await agent.done).toEqual({ reason: 'stopped' });
  });
});
