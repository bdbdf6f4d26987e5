/**
 * A real fleet for end-to-end tests: a controller running in this process (server mode, SQLite in a temp dir,
 * listening on 127.0.0.1) that can be stopped and started again on the same port and data dir, and agents
 * running as real `node bin/caddyfleet.mjs agent …` child processes, each with its own managed Caddy
 * (/usr/bin/caddy) listening on its own loopback address 127.0.0.N.
 *
 *   const ctl = await FleetController.start();                 // heartbeat 1 s, offline after 3 missed
 *   const a = await FleetAgent.enroll(ctl, { ip: '127.0.0.2', name: 'node-a' });
 *   const route = await ctl.createRoute({ kind: 'dead', nodeId: a.nodeId, domains: ['x.test'], tls: 'off' });
 *   await waitFor(async () => (await a.tryGet('x.test'))?.status === 404);
 *   await a.stop(); await a.start();                            // same state dir and ports
 *   await ctl.stop(); await ctl.start();                        // same port and data dir
 *   afterAll: await a.dispose(); await ctl.dispose();
 *
 * Rules: processes are stopped by the PID we started (a managed Caddy that outlived its agent is killed by its
 * PID after checking its command line belongs to that agent's state dir); every wait is bounded; traffic only
 * goes to 127.0.0.0/8. Every route created in these tests must use `tls: 'off'` (no certificate automation).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LightMyRequestResponse } from 'fastify';
import type { FleetNode, Route } from '@caddyfleet/protocol';
import { LocalApiClient, type AgentStatusSnapshot } from '../../apps/agent/src/index';
import { loadConfig, startController, type RunningController } from '../../apps/controller/src/index';
import { freePort, requireBinary, sleep, spawnLogged, tempDir, waitFor, type ExitInfo, type LoggedProcess, type TempDir } from './processes';

export { waitFor, sleep } from './processes';
export { startUpstream, type Upstream } from '../../apps/agent/test-support/fixtures';

export const CADDY_BIN = '/usr/bin/caddy';
export const FLEET_ADMIN_PASSWORD = 'fleet-e2e-admin-password';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_BIN = join(ROOT, 'bin', 'caddyfleet.mjs');

/** True when /usr/bin/caddy exists; false (with a message) locally when it does not; throws under CI=true. */
export function requireCaddy(): boolean {
  return requireBinary(CADDY_BIN, 'caddy');
}

// ---------------------------------------------------------------------------
// HTTP to an agent's Caddy
// ---------------------------------------------------------------------------

export interface HttpReply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET http://<ip>:<port><path> with `Host: host`; no keep-alive; rejects after `timeoutMs` (default 3000). */
export function httpGet(ip: string, port: number, host: string, path = '/', timeoutMs = 3000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path, headers: { Host: host }, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    const hard = setTimeout(() => req.destroy(new Error(`GET http://${host}${path} via ${ip}:${port}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(hard));
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}${path} via ${ip}:${port}: idle for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Text of Caddy's 404 for a dead route and for a host no route serves (packages/caddy/src/http-handlers.ts). */
export const DEAD_TEXT = 'This site is not served here.';
export const UNKNOWN_HOST_TEXT = 'No site is configured for this host name.';

// ---------------------------------------------------------------------------
// controller
// ---------------------------------------------------------------------------

export interface FleetControllerOptions {
  heartbeatSeconds?: number;
  offlineAfterMissed?: number;
}

export interface ApiReply<T = any> {
  status: number;
  body: T;
}

export type RouteInput = Record<string, unknown>;

/**
 * The controller, in this process. `start()` after `stop()` binds the same port and opens the same data dir.
 * API calls go over real HTTP (Bearer API token, which survives restarts); while started with
 * `{ listen: false }` they go through Fastify's inject instead (agents cannot reach it then).
 */
export class FleetController {
  running: RunningController | null = null;
  private apiToken = '';
  /** The controller's local node's site: new agents enroll into it. */
  siteId = '';

  private constructor(
    readonly dir: TempDir,
    readonly port: number,
    readonly opts: Required<FleetControllerOptions>,
  ) {}

  static async start(opts: FleetControllerOptions = {}): Promise<FleetController> {
    const dir = await tempDir('cf-fleet-ctl-');
    const port = await freePort('127.0.0.1');
    const ctl = new FleetController(dir, port, { heartbeatSeconds: opts.heartbeatSeconds ?? 1, offlineAfterMissed: opts.offlineAfterMissed ?? 3 });
    try {
      await ctl.start();
      const login = await fetch(`${ctl.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: FLEET_ADMIN_PASSWORD }),
        signal: AbortSignal.timeout(10_000),
      });
      if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
      const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
      const tok = await fetch(`${ctl.url}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'fleet-tests' }),
        signal: AbortSignal.timeout(10_000),
      });
      if (tok.status !== 201) throw new Error(`creating an API token failed: ${tok.status} ${await tok.text()}`);
      ctl.apiToken = ((await tok.json()) as { token: string }).token;
      ctl.siteId = (await ctl.node('local')).siteId;
    } catch (err) {
      await ctl.dispose();
      throw err;
    }
    return ctl;
  }

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  /** http://127.0.0.1:<port>, whether or not it is running right now. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** Starts (again) on the same port and data dir. `listen: false`: API through inject only, agents shut out. */
  async start(opts: { listen?: boolean } = {}): Promise<void> {
    if (this.running) throw new Error('controller already running');
    const config = loadConfig(
      'server',
      {
        listen: `127.0.0.1:${this.port}`,
        dataDir: this.dataDir,
        adminPassword: FLEET_ADMIN_PASSWORD,
        logLevel: 'silent',
        heartbeatSeconds: String(this.opts.heartbeatSeconds),
        offlineAfterMissed: String(this.opts.offlineAfterMissed),
      },
      {},
    );
    const listen = opts.listen ?? true;
    // The port was free a moment ago (or was ours before a stop); retry briefly if the kernel still holds it.
    for (let attempt = 1; ; attempt++) {
      try {
        this.running = await startController(config, { listen, announce: () => {} });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  /** Stops the controller (agents' sockets are cut); idempotent. */
  async stop(): Promise<void> {
    const c = this.running;
    this.running = null;
    await c?.close();
  }

  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    await this.dir.cleanup();
  }

  async api<T = any>(method: string, path: string, body?: unknown): Promise<ApiReply<T>> {
    const c = this.running;
    if (!c) throw new Error(`controller is stopped: cannot ${method} ${path}`);
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiToken}` };
    let status: number;
    let text: string;
    if (c.url) {
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${this.url}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      text = await res.text();
    } else {
      const res: LightMyRequestResponse = await c.app.inject({
        method: method as 'GET',
        url: `/api/v1${path}`,
        headers,
        ...(body !== undefined ? { payload: body as object } : {}),
      });
      status = res.statusCode;
      text = res.body;
    }
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status, body: parsed as T };
  }

  /** Like api(), but throws unless the status is 2xx. */
  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.api<T>(method, path, body);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async enrollmentToken(): Promise<string> {
    return (await this.ok<{ token: string }>('POST', `/sites/${this.siteId}/enrollment-tokens`, {})).token;
  }

  node(id: string): Promise<FleetNode> {
    return this.ok<FleetNode>('GET', `/nodes/${id}`);
  }

  route(id: string): Promise<Route> {
    return this.ok<Route>('GET', `/routes/${id}`);
  }

  createRoute(input: RouteInput): Promise<Route> {
    return this.ok<Route>('POST', '/routes', { tls: 'off', ...input });
  }

  patchRoute(id: string, patch: RouteInput): Promise<Route> {
    return this.ok<Route>('PATCH', `/routes/${id}`, patch);
  }

  async deleteRoute(id: string): Promise<void> {
    await this.ok('DELETE', `/routes/${id}`);
  }

  batch(ops: { create?: RouteInput[]; update?: { id: string; patch: RouteInput }[]; delete?: string[] }): Promise<{ created: Route[]; updated: Route[]; deleted: string[] }> {
    return this.ok('POST', '/routes/batch', ops);
  }

  /** Polls GET /nodes/:id until `pred` holds; returns that node. */
  waitNode(id: string, pred: (n: FleetNode) => boolean, description: string, timeoutMs = 20_000): Promise<FleetNode> {
    let last: FleetNode | undefined;
    return waitFor(
      async () => {
        last = await this.node(id);
        return pred(last) ? last : null;
      },
      { timeoutMs, intervalMs: 150, description },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nnode was: ${JSON.stringify(last)}`);
    });
  }

  /** Online, no error, seen, and its applied revision equals its desired revision (optionally at least `minRevision`). */
  waitInSync(id: string, opts: { minRevision?: number; timeoutMs?: number } = {}): Promise<FleetNode> {
    return this.waitNode(
      id,
      (n) =>
        n.status === 'online' &&
        n.lastError === null &&
        n.lastSeenAt !== null &&
        n.appliedRevision === n.desiredRevision &&
        n.desiredRevision >= (opts.minRevision ?? 0),
      `node ${id} online and in sync`,
      opts.timeoutMs,
    );
  }

  waitStatus(id: string, status: FleetNode['status'], timeoutMs = 20_000): Promise<FleetNode> {
    return this.waitNode(id, (n) => n.status === status, `node ${id} ${status}`, timeoutMs);
  }
}

// ---------------------------------------------------------------------------
// agents
// ---------------------------------------------------------------------------

export interface FleetAgentOptions {
  /** Loopback address the agent's Caddy listens on, e.g. 127.0.0.2. */
  ip: string;
  name: string;
  /** Controller URL given with --controller; defaults to the controller's own (set a proxy's URL here). */
  controllerUrl?: string;
  /** --drift-check-seconds (default 0: off, so tests see only the changes they make). */
  driftCheckSeconds?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** --log-level of the agent process (default info: its output tail is shown when a test fails). */
  logLevel?: string;
  /** Passed as the agent's environment on top of a copy of ours without CADDYFLEET_*. */
  env?: Record<string, string>;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free TCP port on `ip`, different from `not`. */
async function freePortOn(ip: string, not: number[] = []): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort(ip);
    if (!not.includes(p)) return p;
  }
  throw new Error(`no free port on ${ip}`);
}

/**
 * One agent process (`node bin/caddyfleet.mjs agent …`) with its managed Caddy. Its state dir and listen
 * ports stay the same across stop()/start(), like a service restarted on its host.
 */
export class FleetAgent {
  proc: LoggedProcess | null = null;
  nodeId = '';
  controllerUrl: string;
  /** Output of earlier runs of this agent (each stop()/start() starts a new process). */
  private pastOutput = '';
  /** Every Caddy PID seen, for the safety net in dispose(). */
  private readonly caddyPids = new Set<number>();

  private constructor(
    readonly ctl: FleetController,
    readonly opts: FleetAgentOptions,
    readonly dir: TempDir,
    readonly httpPort: number,
    readonly httpsPort: number,
  ) {
    this.controllerUrl = opts.controllerUrl ?? ctl.url;
  }

  /** Creates an enrollment token through the API and starts an agent that enrolls with it. */
  static async enroll(ctl: FleetController, opts: FleetAgentOptions): Promise<FleetAgent> {
    if (!/^127(?:\.\d{1,3}){3}$/.test(opts.ip)) throw new Error(`agent ip ${opts.ip} is not a loopback address`);
    const dir = await tempDir('cf-fleet-agent-');
    const httpPort = await freePortOn(opts.ip);
    const httpsPort = await freePortOn(opts.ip, [httpPort]);
    const agent = new FleetAgent(ctl, opts, dir, httpPort, httpsPort);
    try {
      await agent.start({ token: await ctl.enrollmentToken() });
    } catch (err) {
      await agent.dispose();
      throw err;
    }
    return agent;
  }

  get ip(): string {
    return this.opts.ip;
  }

  get name(): string {
    return this.opts.name;
  }

  get stateDir(): string {
    return join(this.dir.path, 'state');
  }

  get pid(): number | null {
    return this.proc && !this.proc.exitInfo() ? this.proc.pid : null;
  }

  get running(): boolean {
    return this.pid !== null;
  }

  /** Output of this and earlier runs (bounded ring buffers). */
  output(): string {
    return this.pastOutput + (this.proc?.output() ?? '');
  }

  describe(): string {
    return this.proc?.describe() ?? `${this.name}: not started`;
  }

  /**
   * Spawns the agent and waits until it runs (enrolled, Caddy started, last config restored: it prints
   * "caddyfleet agent running as node …"). `token` only for the first run.
   */
  async start(opts: { token?: string; timeoutMs?: number } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    if (this.proc) this.pastOutput += this.proc.output();
    const o = this.opts;
    const args = [
      CLI_BIN,
      'agent',
      '--controller', this.controllerUrl,
      '--state-dir', this.stateDir,
      '--caddy-bin', CADDY_BIN,
      '--http-listen', `${o.ip}:${this.httpPort}`,
      '--https-listen', `${o.ip}:${this.httpsPort}`,
      '--name', o.name,
      '--reconnect-min-ms', String(o.reconnectMinMs ?? 200),
      '--reconnect-max-ms', String(o.reconnectMaxMs ?? 2000),
      '--drift-check-seconds', String(o.driftCheckSeconds ?? 0),
      '--log-level', o.logLevel ?? 'info',
      ...(opts.token ? ['--token', opts.token] : []),
    ];
    const proc = spawnLogged(process.execPath, args, { name: `agent ${o.name}`, cwd: ROOT, env: cleanEnv(o.env), maxBufferBytes: 256 * 1024 });
    this.proc = proc;
    const running = /caddyfleet agent running as node (\S+)/;
    await proc.waitForOutput(running, opts.timeoutMs ?? 30_000);
    const nodeId = running.exec(proc.output())![1]!;
    if (this.nodeId && this.nodeId !== nodeId) throw new Error(`${this.name} came back as node ${nodeId}, was ${this.nodeId}`);
    this.nodeId = nodeId;
    // The local API answers and the Caddy PID is recorded for cleanup, unless the agent already gave up.
    const ready = await waitFor(async () => (proc.exitInfo() ? 'exited' : (await this.status()).caddy.pid ? 'ready' : null), {
      timeoutMs: 10_000,
      description: `${this.name}: local API status with a Caddy PID`,
    });
    if (ready === 'exited') throw new Error(`${this.name} exited right after starting\n${proc.describe()}`);
  }

  /** SIGTERM by PID (SIGKILL after `timeoutMs`), waits for the exit. Its managed Caddy stops with it. */
  async stop(timeoutMs = 10_000): Promise<ExitInfo | undefined> {
    const info = await this.proc?.stop(timeoutMs);
    return info;
  }

  /** Resolves with the exit info once the current process exited (rejects after `timeoutMs`). */
  async waitExit(timeoutMs = 15_000): Promise<ExitInfo> {
    const proc = this.proc;
    if (!proc) throw new Error(`${this.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        proc.exited,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${proc.describe()}`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET /status of the agent's local API (unix socket in its state dir). */
  async status(): Promise<AgentStatusSnapshot> {
    const s = await LocalApiClient.forStateDir(this.stateDir, 3000).status();
    if (s.caddy.pid) this.caddyPids.add(s.caddy.pid);
    return s;
  }

  /** PID of the managed Caddy, from the agent's status (waits until there is one). */
  async caddyPid(timeoutMs = 10_000): Promise<number> {
    return waitFor(async () => (await this.status()).caddy.pid, { timeoutMs, description: `${this.name}: Caddy PID in the agent status` });
  }

  /** GET through this agent's Caddy: http://<ip>:<httpPort><path> with Host `host`. */
  get(host: string, path = '/', timeoutMs = 3000): Promise<HttpReply> {
    return httpGet(this.ip, this.httpPort, host, path, timeoutMs);
  }

  /** Like get(), but null when nothing answers (connection refused, timeout). */
  async tryGet(host: string, path = '/', timeoutMs = 3000): Promise<HttpReply | null> {
    try {
      return await this.get(host, path, timeoutMs);
    } catch {
      return null;
    }
  }

  /** Polls until this agent's Caddy answers `host` with `pred` true; returns that reply. */
  waitServes(host: string, pred: (r: HttpReply) => boolean, description: string, timeoutMs = 15_000, path = '/'): Promise<HttpReply> {
    let last: HttpReply | null = null;
    return waitFor(
      async () => {
        last = await this.tryGet(host, path, 2000);
        return last && pred(last) ? last : null;
      },
      { timeoutMs, intervalMs: 100, description: `${this.name} (${this.ip}:${this.httpPort}) ${description}` },
    ).catch((err: Error) => {
      const l = last as HttpReply | null;
      throw new Error(`${err.message}; last answer: ${l ? `${l.status} ${l.body.slice(0, 200)}` : 'none'}\n${this.describe()}`);
    });
  }

  /** Stops the agent and removes its state dir; kills (by PID) a Caddy of this agent that is still running. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    try {
      // A Caddy restarted after the last status() call is only known from the agent's pid file.
      this.caddyPids.add(Number(readFileSync(join(this.stateDir, 'caddy', 'caddy.pid'), 'utf8').trim()));
    } catch {
      /* no pid file: the agent stopped its Caddy */
    }
    for (const pid of this.caddyPids) {
      if (!Number.isInteger(pid) || pid <= 1) continue;
      if (!isAlive(pid)) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (!cmdline.includes(this.stateDir)) continue; // PID reused by something else
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await this.dir.cleanup();
  }
}

/** True while a process with this PID exists. */
export function pidAlive(pid: number): boolean {
  return isAlive(pid);
}

/** Waits until the process `pid` is gone. */
export function waitPidGone(pid: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(() => !isAlive(pid), { timeoutMs, description: `process ${pid} gone` });
}
