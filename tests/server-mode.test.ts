/**
 * `caddyfleet server` as users run it: a real process whose local node runs its own managed Caddy and serves the
 * routes put on it, and `--no-local-node`, where the local node is no target (409 local_node_disabled).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../apps/agent/test-support/fixtures';
import { requireCaddy } from './helpers/fleet-agent';
import { httpGet } from './helpers/http-probe';
import { freePort, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './helpers/processes';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'caddyfleet.mjs');
const PASSWORD = 'server-mode-password-1';
const hasCaddy = requireCaddy();

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
  return { ...env, ...extra };
}

interface Server {
  proc: LoggedProcess;
  dir: TempDir;
  url: string;
  httpPort: number;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

async function startServer(extraArgs: string[]): Promise<Server> {
  const dir = await tempDir('caddyfleet-server-mode-');
  const [port, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const args = ['server', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, '--http-listen', `127.0.0.1:${httpPort}`, '--https-listen', `127.0.0.1:${httpsPort}`, ...extraArgs];
  const proc = spawnLogged(process.execPath, [BIN, ...args], {
    name: 'caddyfleet-server',
    cwd: ROOT,
    env: cleanEnv({ CADDYFLEET_ADMIN_PASSWORD: PASSWORD, CADDYFLEET_LOG_LEVEL: 'warn' }),
  });
  try {
    await proc.waitForOutput(`caddyfleet controller listening on ${url}`, 30_000);
  } catch (err) {
    await proc.stop();
    await dir.cleanup();
    throw new Error(`${(err as Error).message}\n${proc.describe()}`);
  }
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const api = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { cookie, origin: url, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  return { proc, dir, url, httpPort, api };
}

async function stopServer(s: Server | undefined): Promise<void> {
  if (!s) return;
  const exit = await s.proc.stop(15_000);
  await s.dir.cleanup();
  expect(exit, s.proc.describe()).toEqual({ code: 0, signal: null });
}

describe.runIf(hasCaddy)('caddyfleet server runs its local node', () => {
  let server: Server | undefined;
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream('server-upstream');
    server = await startServer([]);
  });
  afterAll(async () => {
    await stopServer(server);
    await upstream?.close();
  });

  it('serves a route put on the local node through its own Caddy', async () => {
    const s = server!;
    await waitFor(async () => (await s.api<{ status: string }>('GET', '/nodes/local')).body.status === 'online', {
      timeoutMs: 20_000,
      description: 'local node online',
    });
    const created = await s.api<{ id: string; nodeId: string | null }>('POST', '/routes', {
      kind: 'proxy',
      domains: ['app.server-mode.test'],
      upstreams: [{ host: '127.0.0.1', port: upstream.port }],
      tls: 'off',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.nodeId).toBeNull();
    const reply = await waitFor(
      async () => {
        const r = await httpGet('127.0.0.1', s.httpPort, 'app.server-mode.test').catch(() => null);
        return r && r.status === 200 ? r : null;
      },
      { timeoutMs: 15_000, description: 'route served by the server Caddy' },
    );
    expect(reply.body).toBe('server-upstream app.server-mode.test/');
    const nodes = await s.api<{ id: string; caddyVersion: string | null }[]>('GET', '/nodes');
    expect(nodes.body.find((n) => n.id === 'local')?.caddyVersion).toMatch(/\d+\.\d+/);
  });
});

describe('caddyfleet server --no-local-node', () => {
  let server: Server | undefined;
  beforeAll(async () => {
    server = await startServer(['--no-local-node']);
  });
  afterAll(async () => stopServer(server));

  it('refuses routes for the local node and hides it from the targets', async () => {
    const s = server!;
    const refused = await s.api<{ error: { code: string; message: string } }>('POST', '/routes', {
      kind: 'proxy',
      domains: ['nowhere.server-mode.test'],
      upstreams: [{ host: '127.0.0.1', port: 9 }],
      tls: 'off',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('local_node_disabled');
    expect(refused.body.error.message).toContain('--no-local-node');
    const explicit = await s.api<{ error: { code: string } }>('POST', '/routes', { kind: 'dead', domains: ['x.server-mode.test'], nodeId: 'local', tls: 'off' });
    expect(explicit.body.error.code).toBe('local_node_disabled');
    expect((await s.api<unknown[]>('GET', '/routes')).body).toEqual([]);
    expect((await s.api<{ id: string }[]>('GET', '/nodes')).body.map((n) => n.id)).not.toContain('local');
    // No Caddy was started for it.
    expect(s.proc.output()).not.toContain('local node: Caddy');
  });
});
