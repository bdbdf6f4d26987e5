/**
 * Fleet helpers for the benchmark: upstream servers whose answer names them, an in-process controller, real
 * agents as child processes (`node bin/caddyfleet.mjs agent`, each supervising its own Caddy), route creation
 * through the API, and a bare Caddy to measure the cost of `POST /load` by itself.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { loadConfig, startController, type RunningController } from '@caddyfleet/controller';
import { LocalApiClient } from '@caddyfleet/agent/local-api-client';
import type { Route, RouteCreateInput } from '@caddyfleet/protocol';
import { freePort, spawnLogged, tempDir, type LoggedProcess, type TempDir } from '../../tests/helpers/processes';
import { Cleanup, pidAlive, stopPid, trackPid, untrackPid } from './cleanup';
import { performance } from 'node:perf_hooks';
import { ApiClient, HostTarget, waitUntil } from './http';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = join(REPO, 'bin', 'caddyfleet.mjs');
export const CADDY = '/usr/bin/caddy';
export const ADMIN_PASSWORD = 'bench-admin-password-0123';

/** Environment for children: ours, minus any CADDYFLEET_* setting inherited from the caller's shell. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
  return { ...env, ...extra };
}

export async function benchDir(cleanup: Cleanup, prefix: string): Promise<TempDir> {
  const dir = await tempDir(`cfb-${prefix}-`);
  cleanup.add(`remove ${dir.path}`, () => dir.cleanup());
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// upstreams

/** HTTP servers on 127.0.0.1 answering `up=<port> host=<Host>`: the port says which upstream a route uses. */
export class UpstreamBank {
  private constructor(
    readonly ports: number[],
    private readonly servers: http.Server[],
  ) {}

  static async start(count: number): Promise<UpstreamBank> {
    const servers: http.Server[] = [];
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = http.createServer((req, res) => {
        const port = (server.address() as AddressInfo).port;
        res.setHeader('Content-Type', 'text/plain');
        res.end(`up=${port} host=${req.headers.host ?? ''}`);
      });
      server.keepAliveTimeout = 30_000;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      ports.push((server.address() as AddressInfo).port);
    }
    return new UpstreamBank(ports, servers);
  }

  static answer(port: number, host: string): string {
    return `up=${port} host=${host}`;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map((s) => {
        s.closeAllConnections();
        return new Promise<void>((r) => s.close(() => r()));
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// controller (in process)

export interface BenchController {
  c: RunningController;
  api: ApiClient;
}

export async function startBenchController(cleanup: Cleanup, dataDir: string, flags: Record<string, string> = {}): Promise<BenchController> {
  const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir, adminPassword: ADMIN_PASSWORD, logLevel: 'error', ...flags }, {});
  const c = await startController(config, { announce: () => {} });
  cleanup.add('close the controller', () => c.close());
  const api = await ApiClient.login(c.url, ADMIN_PASSWORD);
  return { c, api };
}

/** tenant → organization → site; returns the site id. */
export async function createSite(api: ApiClient, name: string): Promise<string> {
  const tenant = await api.post('/tenants', { name: `${name}-tenant` });
  const org = await api.post('/organizations', { name: `${name}-org`, tenantId: tenant.id });
  const site = await api.post('/sites', { name: `${name}-site`, organizationId: org.id });
  return site.id as string;
}

export async function enrollmentToken(api: ApiClient, siteId: string): Promise<string> {
  return (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).token as string;
}

// ---------------------------------------------------------------------------------------------------------
// agents (child processes)

export interface AgentNode {
  name: string;
  nodeId: string;
  ip: string;
  httpPort: number;
  stateDir: string;
  proc: LoggedProcess;
  local: LocalApiClient;
  caddyPid: number | null;
  stop(): Promise<void>;
}

/**
 * Starts `caddyfleet agent` with a managed Caddy serving plain HTTP on ip:httpPort. Registers its stop (and,
 * should the agent not stop its Caddy, the Caddy's PID) on `cleanup` before anything can fail.
 */
export async function startAgentNode(
  cleanup: Cleanup,
  opts: { controllerUrl: string; token: string; stateDir: string; ip: string; name: string; caddyAdmin?: string; env?: Record<string, string> },
): Promise<AgentNode> {
  await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
  const httpPort = await freePort(opts.ip);
  let httpsPort = await freePort(opts.ip);
  for (let i = 0; i < 5 && httpsPort === httpPort; i++) httpsPort = await freePort(opts.ip);
  // BENCH_PROFILE_DIR=<dir>: the agent writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const proc = spawnLogged(
    process.execPath,
    [
      ...profile,
      CLI,
      'agent',
      '--controller', opts.controllerUrl,
      '--token', opts.token,
      '--state-dir', opts.stateDir,
      ...(opts.caddyAdmin ? ['--caddy-admin', opts.caddyAdmin] : ['--caddy-bin', CADDY]),
      '--http-listen', `${opts.ip}:${httpPort}`,
      '--https-listen', `${opts.ip}:${httpsPort}`,
      '--name', opts.name,
      '--log-level', 'warn',
      '--reconnect-min-ms', '100',
      '--reconnect-max-ms', '2000',
    ],
    { cwd: REPO, env: childEnv(opts.env), name: `agent ${opts.name}` },
  );
  trackPid(proc.pid, `agent ${opts.name}`);
  const local = LocalApiClient.forStateDir(opts.stateDir, 10_000);
  const node: AgentNode = {
    name: opts.name,
    nodeId: '',
    ip: opts.ip,
    httpPort,
    stateDir: opts.stateDir,
    proc,
    local,
    caddyPid: null,
    stop: async () => {
      await proc.stop(8000); // SIGTERM: the agent stops its Caddy gracefully
      untrackPid(proc.pid);
      // If the agent had to be SIGKILLed, its Caddy is orphaned: stop it by the PID the agent reported.
      if (node.caddyPid !== null && pidAlive(node.caddyPid)) await stopPid(node.caddyPid, 3000);
      if (node.caddyPid !== null) untrackPid(node.caddyPid);
    },
  };
  cleanup.add(`stop ${proc.name}`, () => node.stop());
  try {
    await proc.waitForOutput(/running as node (\S+)/, 45_000);
  } catch (err) {
    throw new Error(`agent ${opts.name} did not start: ${(err as Error).message}`);
  }
  node.nodeId = /running as node (\S+)/.exec(proc.output())![1]!;
  const status = await waitUntil(`local API of ${opts.name}`, () => local.status(), 15_000, 100);
  node.caddyPid = status.caddy.pid;
  if (node.caddyPid !== null) trackPid(node.caddyPid, `caddy of ${opts.name}`);
  return node;
}

/** Waits until the controller shows the node online and the agent has a live connection. */
export async function waitOnline(api: ApiClient, node: AgentNode, timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `${node.name} online`,
    async () => (await api.get(`/nodes/${node.nodeId}`)).status === 'online' && (await node.local.status()).connected,
    timeoutMs,
    100,
  );
}

/** Waits until the agent has applied the node's desired revision and serves `served` routes. */
export async function waitApplied(api: ApiClient, node: AgentNode, served: number, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    `${node.name} applied ${served} routes`,
    async () => {
      const [n, s] = await Promise.all([api.get(`/nodes/${node.nodeId}`), node.local.status()]);
      return s.appliedRevision === n.desiredRevision && s.routeCount === served;
    },
    timeoutMs,
    100,
  );
}

// ---------------------------------------------------------------------------------------------------------
// routes

export const routeDomain = (prefix: string, i: number) => `${prefix}${String(i).padStart(4, '0')}.bench.test`;

/** Creates `count` tls-off proxy routes on one node through POST /routes/batch in chunks. */
/** Creates the given routes on one node through POST /routes/batch in chunks. */
export async function createInputs(api: ApiClient, nodeId: string, inputs: RouteCreateInput[], chunk = 250): Promise<Route[]> {
  const created: Route[] = [];
  for (let start = 0; start < inputs.length; start += chunk) {
    const create = inputs.slice(start, start + chunk).map((r) => ({ ...r, nodeId }));
    created.push(...(await api.post<{ created: Route[] }>('/routes/batch', { create })).created);
  }
  return created;
}

export async function createRoutes(api: ApiClient, nodeId: string, count: number, upstreamPort: number, prefix = 'r', chunk = 250): Promise<Route[]> {
  const created: Route[] = [];
  for (let start = 0; start < count; start += chunk) {
    const create: RouteCreateInput[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      create.push({ kind: 'proxy', nodeId, domains: [routeDomain(prefix, i)], upstreams: [{ host: '127.0.0.1', port: upstreamPort }], tls: 'off' });
    }
    const res = await api.post<{ created: Route[] }>('/routes/batch', { create });
    created.push(...res.created);
  }
  return created;
}

// ---------------------------------------------------------------------------------------------------------
// a bare Caddy, for the cost of POST /load alone

export interface BareCaddy {
  admin: CaddyAdmin;
  adminListen: string;
  storageDir: string;
  proc: LoggedProcess;
}

/**
 * A Caddy started like the agent starts its own: admin API on a unix socket (or on 127.0.0.1:`adminPort`, for
 * an agent given `--caddy-admin`), own XDG dirs.
 */
export async function startBareCaddy(cleanup: Cleanup, dir: string, adminPort?: number): Promise<BareCaddy> {
  await mkdir(join(dir, 'config'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  const adminListen = adminPort ? `127.0.0.1:${adminPort}` : `unix/${join(dir, 'admin.sock')}`;
  const bootstrap = join(dir, 'bootstrap.json');
  await writeFile(bootstrap, JSON.stringify({ admin: { listen: adminListen } }));
  const proc = spawnLogged(CADDY, ['run', '--config', bootstrap], {
    cwd: dir,
    env: childEnv({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') }),
    name: 'bare caddy',
  });
  trackPid(proc.pid, 'bare caddy');
  cleanup.add('stop the bare Caddy', async () => {
    await proc.stop(5000);
    untrackPid(proc.pid);
  });
  const admin = new CaddyAdmin(adminListen, { timeoutMs: 30_000 });
  await waitUntil('bare Caddy admin API', async () => {
    if (proc.exitInfo()) throw new Error(proc.describe());
    return admin.ping();
  }, 15_000, 50);
  return { admin, adminListen, storageDir: join(dir, 'data', 'caddy'), proc };
}

// ---------------------------------------------------------------------------------------------------------
// one real node holding many routes (change-to-served and burst)

export interface LoadedNode {
  dir: TempDir;
  bank: UpstreamBank;
  ctl: BenchController;
  siteId: string;
  node: AgentNode;
  target: HostTarget;
  routes: Route[];
  /** Wall time of the set-up steps, for the report. */
  setupMs: { agentStart: number; createRoutes: number; firstApply: number };
}

/**
 * A controller (in process), `upstreams` upstream servers, one agent child with its Caddy on ip, and `routeCount`
 * proxy routes to the first upstream, applied and verified served.
 */
export async function setupLoadedNode(cleanup: Cleanup, opts: { name: string; ip: string; routeCount: number; upstreams: number }): Promise<LoadedNode> {
  const dir = await benchDir(cleanup, opts.name);
  const bank = await UpstreamBank.start(opts.upstreams);
  cleanup.add('close upstreams', () => bank.close());
  const ctl = await startBenchController(cleanup, join(dir.path, 'controller'));
  const siteId = await createSite(ctl.api, opts.name);
  const token = await enrollmentToken(ctl.api, siteId);
  let t = performance.now();
  const node = await startAgentNode(cleanup, { controllerUrl: ctl.c.url, token, stateDir: join(dir.path, 'agent'), ip: opts.ip, name: `${opts.name}-node` });
  await waitOnline(ctl.api, node);
  const agentStart = performance.now() - t;
  const target = new HostTarget(node.ip, node.httpPort);
  cleanup.add('close poller', () => target.close());
  t = performance.now();
  const routes = await createRoutes(ctl.api, node.nodeId, opts.routeCount, bank.ports[0]!);
  const createMs = performance.now() - t;
  t = performance.now();
  await waitApplied(ctl.api, node, opts.routeCount);
  const last = routes[routes.length - 1]!.domains[0]!;
  await waitUntil(`${last} served`, async () => {
    const r = await target.tryGet(last);
    return r?.status === 200 && r.body === UpstreamBank.answer(bank.ports[0]!, last);
  }, 15_000, 20);
  return { dir, bank, ctl, siteId, node, target, routes, setupMs: { agentStart, createRoutes: createMs, firstApply: performance.now() - t } };
}

export { Cleanup, freePort, tempDir };
