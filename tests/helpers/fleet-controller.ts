/**
 * The controller of a real fleet for end-to-end tests (see ./fleet.ts): server mode, SQLite in a temp dir, in this
 * process, listening on 127.0.0.1, and restartable on the same port and data dir.
 *
 *   const ctl = await FleetController.start();                 // heartbeat 1 s, offline after 3 missed
 *   const route = await ctl.createRoute({ kind: 'dead', nodeId, domains: ['x.test'] });   // tls 'off' by default
 *   await ctl.waitInSync(nodeId);
 *   await ctl.stop(); await ctl.start();                        // same port and data dir
 *   afterAll: await ctl.dispose();
 */
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { FleetNode, Route } from '@caddyfleet/protocol';
import { loadConfig, startController, type RunningController } from '../../apps/controller/src/index';
import { freePort, sleep, tempDir, waitFor, type TempDir } from './processes';

export const FLEET_ADMIN_PASSWORD = 'fleet-e2e-admin-password';

export interface FleetControllerOptions {
  heartbeatSeconds?: number;
  offlineAfterMissed?: number;
  /** Address to listen on (default 127.0.0.1), e.g. the host side of a test target's link. */
  host?: string;
  /** More controller options (flag names), e.g. { agentArtifact }. `publicUrl` defaults to the controller's URL. */
  config?: Record<string, string>;
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
    const host = opts.host ?? '127.0.0.1';
    const port = await freePort(host);
    const ctl = new FleetController(dir, port, {
      heartbeatSeconds: opts.heartbeatSeconds ?? 1,
      offlineAfterMissed: opts.offlineAfterMissed ?? 3,
      host,
      config: opts.config ?? {},
    });
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

  /** http://<host>:<port>, whether or not it is running right now. */
  get url(): string {
    return `http://${this.opts.host}:${this.port}`;
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
        listen: `${this.opts.host}:${this.port}`,
        publicUrl: this.url,
        ...this.opts.config,
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
