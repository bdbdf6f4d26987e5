/**
 * The `caddyfleet` CLI as users run it: `node bin/caddyfleet.mjs …` as a real child process, against a real
 * controller started in this process (SQLite in a temp dir), plus one real `caddyfleet standalone` process
 * stopped with SIGTERM.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { BIN, ROOT, cleanEnv, ok, okJson, parseTable, runCli, show } from './helpers/cli';
import { freePort, spawnLogged, tempDir, waitFor, type TempDir } from './helpers/processes';

const PASSWORD = 'a-long-test-password';

describe('caddyfleet CLI (without a controller)', () => {
  it('--help lists the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code, show(r)).toBe(0);
    for (const cmd of ['standalone', 'server', 'login', 'tenants', 'orgs', 'sites', 'nodes', 'routes', 'tokens']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    }
    expect(r.stdout).toMatch(/^ {2}agent\b/m);
  });

  it('role --help shows every option with its CADDYFLEET_* variable', async () => {
    const r = await runCli(['standalone', '--help']);
    expect(r.code, show(r)).toBe(0);
    for (const [flag, env] of [
      ['--listen', 'CADDYFLEET_LISTEN'],
      ['--data-dir', 'CADDYFLEET_DATA_DIR'],
      ['--database-url', 'CADDYFLEET_DATABASE_URL'],
      ['--admin-password', 'CADDYFLEET_ADMIN_PASSWORD'],
      ['--log-level', 'CADDYFLEET_LOG_LEVEL'],
    ]) {
      expect(r.stdout).toContain(flag);
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(`env: ${env}`);
    }
    const routes = await runCli(['routes', 'list', '--help']);
    expect(routes.stdout.replace(/\s+/g, ' ')).toContain('env: CADDYFLEET_URL');
    expect(routes.stdout.replace(/\s+/g, ' ')).toContain('env: CADDYFLEET_TOKEN');
  });

  it('standalone --listen nonsense exits 2 with a readable message', async () => {
    const dir = await tempDir('caddyfleet-cli-bad-');
    try {
      const r = await runCli(['standalone', '--listen', 'nonsense', '--data-dir', dir.path]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain('invalid configuration');
      expect(r.stderr).toContain('CADDYFLEET_LISTEN (--listen)');
      expect(r.stderr).toContain('HOST:PORT');
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    } finally {
      await dir.cleanup();
    }
  });

  it('standalone without Caddy installs nothing and says how to get it, before starting anything', async () => {
    const dir = await tempDir('caddyfleet-cli-nocaddy-');
    try {
      const port = await freePort();
      const r = await runCli(['standalone', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, '--caddy-bin', '/nonexistent/caddy']);
      expect(r.code, show(r)).toBe(3);
      expect(r.stderr).toContain('Caddy was not found at /nonexistent/caddy');
      expect(r.stderr).toContain('apt-get install caddy');
      expect(r.stdout).not.toContain('listening');
      expect(fs.existsSync(join(dir.path, 'caddyfleet.db')), 'the controller did not start').toBe(false);
    } finally {
      await dir.cleanup();
    }
  });

  it('bad usage exits 2; an unreachable controller exits 1 with a readable message', async () => {
    const missing = await runCli(['routes', 'add', 'proxy', '--domain', 'a.example.com']);
    expect(missing.code, show(missing)).toBe(2);
    expect(missing.stderr).toContain("required option '--upstream <host:port>' not specified");

    const ipv6 = await runCli(['routes', 'add', 'proxy', '--domain', 'a.example.com', '--upstream', '::1:80']);
    expect(ipv6.code, show(ipv6)).toBe(2);
    expect(ipv6.stderr).toContain('[::1]:80');

    const port = await freePort();
    const down = await runCli(['nodes', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(down.code, show(down)).toBe(1);
    expect(down.stderr).toContain(`cannot reach the controller at http://127.0.0.1:${port}`);
    expect(down.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('caddyfleet CLI against a controller', () => {
  let dir: TempDir;
  let controller: RunningController;
  /** CADDYFLEET_URL only, then also CADDYFLEET_TOKEN once logged in. */
  let anon: Record<string, string>;
  let env: Record<string, string>;
  let tenantId: string;
  let orgId: string;
  let siteId: string;
  const routeIds: Record<string, string> = {};

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-cli-');
    controller = await startController(
      loadConfig('standalone', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: PASSWORD, logLevel: 'silent' }),
    );
    anon = { CADDYFLEET_URL: controller.url };
    env = { ...anon };
  });

  afterAll(async () => {
    await controller?.close();
    await dir?.cleanup();
  });

  it('login --password-stdin prints an API token that works', async () => {
    const wrong = await runCli(['login', '--password-stdin'], { env: anon, input: 'not-the-password\n' });
    expect(wrong.code, show(wrong)).toBe(1);
    expect(wrong.stderr).toContain('error (401 invalid_credentials)');

    const r = await runCli(['login', '--username', 'admin', '--password-stdin'], { env: anon, input: `${PASSWORD}\n` });
    expect(r.code, show(r)).toBe(0);
    const m = /^export CADDYFLEET_TOKEN=(\S+)$/m.exec(r.stdout);
    expect(m, show(r)).not.toBeNull();
    expect(r.stderr).toContain('as admin');
    env = { ...anon, CADDYFLEET_TOKEN: m![1]! };

    // The token is a real API token: listed under the CLI's default name, usable as a bearer token.
    const tokens = await okJson<{ id: string; name: string }[]>(['tokens', 'list'], env);
    expect(tokens.map((t) => t.name)).toEqual([expect.stringMatching(/^cli-/)]);
    const res = await fetch(`${controller.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${m![1]}` } });
    expect(res.status).toBe(200);
  });

  it('API commands without a token fail with 401 and a hint', async () => {
    const r = await runCli(['routes', 'list'], { env: anon });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain('error (401 unauthorized)');
    expect(r.stderr).toContain('caddyfleet login');
  });

  it('adds a tenant, an organization and a site', async () => {
    tenantId = (await okJson<{ id: string; name: string }>(['tenants', 'add', 'Acme'], env)).id;
    expect(tenantId).toMatch(/^ten_/);
    orgId = (await okJson<{ id: string; tenantId: string }>(['orgs', 'add', 'Ops', '--tenant', tenantId], env)).id;
    siteId = (await okJson<{ id: string }>(['sites', 'add', 'Berlin', '--org', orgId], env)).id;

    const tenants = parseTable(await ok(['tenants', 'list'], env));
    expect(tenants[0]).toEqual(['ID', 'NAME', 'CREATED']);
    expect(tenants.find((r) => r[0] === tenantId)?.[1]).toBe('Acme');

    const orgs = parseTable(await ok(['orgs', 'list', '--tenant', tenantId], env));
    expect(orgs.slice(1).map((r) => r[0])).toEqual([orgId]);

    const sites = parseTable(await ok(['sites', 'list', '--org', orgId], env));
    expect(sites.slice(1).map((r) => [r[0], r[1]])).toEqual([[siteId, 'Berlin']]);
  });

  it('adds one route of each kind', async () => {
    const proxy = parseTable(
      await ok(
        ['routes', 'add', 'proxy', '--domain', 'app.example.com', '--domain', 'www.example.com', '--upstream', '127.0.0.1:3000', '--upstream', '[::1]:3001', '--tls', 'internal'],
        env,
      ),
    );
    expect(proxy[0]).toEqual(['ID', 'KIND', 'DOMAINS/LISTEN', 'UPSTREAMS/TARGET', 'NODE', 'TLS', 'ENABLED', 'SCOPE', 'ORIGIN', 'PROBLEM', 'STATUS', 'HEALTH']);
    // No agent serves the local node of this in-process controller: the route must not look served.
    expect(proxy[1]!.slice(1)).toEqual([
      'proxy',
      'app.example.com,www.example.com',
      '127.0.0.1:3000,[::1]:3001',
      'local',
      'internal',
      'yes',
      'exclusive',
      'central',
      '-',
      'not served: local has never connected',
      '-',
    ]);
    routeIds.proxy = proxy[1]![0]!;

    const redirect = await okJson<{ id: string; redirect: unknown }>(
      ['routes', 'add', 'redirect', '--domain', 'a.example.com', '--to', 'https://b.example.com', '--status', '308', '--no-preserve-path'],
      env,
    );
    expect(redirect.redirect).toEqual({ to: 'https://b.example.com', status: 308, preservePath: false });
    routeIds.redirect = redirect.id;

    const stream = await okJson<{ id: string; listen: unknown; upstreams: unknown; tls: string }>(
      ['routes', 'add', 'stream', '--listen', '5432/tcp', '--upstream', 'db.internal:5432'],
      env,
    );
    expect(stream.listen).toEqual({ port: 5432, protocol: 'tcp' });
    expect(stream.upstreams).toEqual([{ host: 'db.internal', port: 5432 }]);
    expect(stream.tls).toBe('off');
    routeIds.stream = stream.id;

    const dead = await okJson<{ id: string; enabled: boolean; nodeId: string | null }>(
      ['routes', 'add', 'dead', '--domain', 'old.example.com', '--node', 'local', '--disabled'],
      env,
    );
    expect(dead.enabled).toBe(false);
    expect(dead.nodeId).toBeNull();
    routeIds.dead = dead.id;
  });

  it('shows the 409 of a duplicate domain', async () => {
    const r = await runCli(['routes', 'add', 'proxy', '--domain', 'app.example.com', '--upstream', '127.0.0.1:4000'], { env });
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('error (409 domain_conflict)');
    expect(r.stderr).toContain('app.example.com');
    expect(r.stderr).toContain(routeIds.proxy);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('shows the 400 of an invalid host', async () => {
    const upstream = await runCli(['routes', 'add', 'proxy', '--domain', 'ok.example.com', '--upstream', 'bad_host!:80'], { env });
    expect(upstream.code, show(upstream)).toBe(1);
    expect(upstream.stderr).toContain('error (400 validation_failed)');
    expect(upstream.stderr).toContain('upstreams.0.host');
    expect(upstream.stderr).toContain('bad_host!');

    const domain = await runCli(['routes', 'add', 'dead', '--domain', 'bad_host!'], { env });
    expect(domain.code, show(domain)).toBe(1);
    expect(domain.stderr).toContain('error (400 validation_failed)');
    expect(domain.stderr).toContain('domains.0');
  });

  it('lists routes as a table and as JSON', async () => {
    const table = parseTable(await ok(['routes', 'list'], env));
    expect(table[0]).toEqual(['ID', 'KIND', 'DOMAINS/LISTEN', 'UPSTREAMS/TARGET', 'NODE', 'TLS', 'ENABLED', 'SCOPE', 'ORIGIN', 'PROBLEM', 'STATUS', 'HEALTH']);
    expect(table.slice(1).every((r) => r[10] === 'not served: local has never connected')).toBe(true);
    const byId = new Map(table.slice(1).map((r) => [r[0], r]));
    expect(byId.size).toBe(4);
    expect(byId.get(routeIds.redirect!)?.slice(1, 4)).toEqual(['redirect', 'a.example.com', '308 https://b.example.com (path dropped)']);
    expect(byId.get(routeIds.stream!)?.slice(1, 4)).toEqual(['stream', '5432/tcp', 'db.internal:5432']);
    expect(byId.get(routeIds.dead!)?.[6]).toBe('no');
    expect(byId.get(routeIds.proxy!)?.[11], 'no health checks: no verdict').toBe('-');

    const routes = await okJson<{ id: string; kind: string; domains: string[]; upstreams: unknown[]; nodeId: string | null }[]>(['routes', 'list'], env);
    expect(routes.map((r) => r.kind).sort()).toEqual(['dead', 'proxy', 'redirect', 'stream']);
    const proxy = routes.find((r) => r.id === routeIds.proxy)!;
    expect(proxy.domains).toEqual(['app.example.com', 'www.example.com']);
    expect(proxy.upstreams).toEqual([
      { host: '127.0.0.1', port: 3000 },
      { host: '::1', port: 3001 },
    ]);
    expect(routes.every((r) => r.nodeId === null)).toBe(true);

    // Filters are passed to the API; CADDYFLEET_JSON=1 is the same as --json.
    const streams = JSON.parse(await ok(['routes', 'list', '--kind', 'stream', '--node', 'local'], { ...env, CADDYFLEET_JSON: '1' })) as { id: string }[];
    expect(streams.map((r) => r.id)).toEqual([routeIds.stream]);
  });

  it('shows, disables, enables and deletes a route', async () => {
    const shown = await ok(['routes', 'show', routeIds.proxy!], env);
    expect(shown).toMatch(/^Upstreams: +127\.0\.0\.1:3000, \[::1\]:3001$/m);
    expect((await okJson<{ enabled: boolean }>(['routes', 'disable', routeIds.proxy!], env)).enabled).toBe(false);
    expect((await okJson<{ enabled: boolean }>(['routes', 'enable', routeIds.proxy!], env)).enabled).toBe(true);
    expect(await ok(['routes', 'rm', routeIds.dead!], env)).toContain(`deleted route ${routeIds.dead}`);
    const missing = await runCli(['routes', 'show', routeIds.dead!], { env });
    expect(missing.code, show(missing)).toBe(1);
    expect(missing.stderr).toContain('error (404 not_found)');
  });

  it('lists nodes: the local node is there', async () => {
    const table = parseTable(await ok(['nodes', 'list'], env));
    expect(table[0]).toEqual(['ID', 'NAME', 'HOSTNAME', 'STATUS', 'CADDY', 'LAST SEEN', 'ROUTES', 'CERTS', 'IN SYNC', 'PROBLEMS']);
    const local = table.find((r) => r[0] === 'local');
    expect(local, table.map((r) => r.join(' | ')).join('\n')).toBeDefined();
    expect(local![8]).toBe('never connected');

    const nodes = await okJson<{ id: string; isLocal: boolean }[]>(['nodes', 'list'], env);
    expect(nodes.find((n) => n.id === 'local')?.isLocal).toBe(true);
    expect(await ok(['nodes', 'show', 'local'], env)).toMatch(/^Local node: +yes$/m);
  });

  it('creates a site enrollment token with the agent command line', async () => {
    // --url on the command line instead of CADDYFLEET_URL.
    const out = await ok(['sites', 'token', siteId, '--ttl', '600', '--url', controller.url], { CADDYFLEET_TOKEN: env.CADDYFLEET_TOKEN! });
    const m = /^ {2}curl -fsSL (\S+)\/install\.sh \| CADDYFLEET_ENROLLMENT_TOKEN=(\S+) sh$/m.exec(out);
    expect(m, out).not.toBeNull();
    expect(m![1]).toBe(controller.url);
    expect(out).toMatch(new RegExp(`^Token: +${m![2]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    // The test controller listens on 127.0.0.1: other hosts could not use this command.
    expect(out).toContain('is a loopback address that other hosts cannot reach');

    const json = await okJson<{ id: string; token: string; expiresAt: string; siteId: string }>(['sites', 'token', siteId], env);
    expect(json.siteId).toBe(siteId);
    expect(json.token.length).toBeGreaterThan(10);

    const listed = await controller.app.inject({
      method: 'GET',
      url: `/api/v1/sites/${siteId}/enrollment-tokens`,
      headers: { authorization: `Bearer ${env.CADDYFLEET_TOKEN}` },
    });
    expect((listed.json() as unknown[]).length).toBe(2);
  });

  it('manages API tokens', async () => {
    const created = await okJson<{ id: string; token: string }>(['tokens', 'add', 'ci'], env);
    const names = (await okJson<{ id: string; name: string }[]>(['tokens', 'list'], env)).map((t) => t.name);
    expect(names).toContain('ci');
    expect(await ok(['tokens', 'rm', created.id], env)).toContain(`revoked API token ${created.id}`);
    const revoked = await runCli(['nodes', 'list'], { env: { ...anon, CADDYFLEET_TOKEN: created.token } });
    expect(revoked.code, show(revoked)).toBe(1);
    expect(revoked.stderr).toContain('error (401 invalid_token)');
  });
});

describe('caddyfleet standalone as a process', () => {
  it('serves /healthz and exits 0 on SIGTERM', async () => {
    const dir = await tempDir('caddyfleet-cli-standalone-');
    try {
      const [port, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
      const args = ['standalone', '--listen', `127.0.0.1:${port}`, '--data-dir', dir.path, '--http-listen', `127.0.0.1:${httpPort}`, '--https-listen', `127.0.0.1:${httpsPort}`];
      const proc = spawnLogged(process.execPath, [BIN, ...args], {
        name: 'caddyfleet-standalone',
        cwd: ROOT,
        env: cleanEnv({ CADDYFLEET_ADMIN_PASSWORD: PASSWORD, CADDYFLEET_LOG_LEVEL: 'warn' }),
      });
      try {
        await proc.waitForOutput(`caddyfleet controller listening on http://127.0.0.1:${port}`, 30_000);
        await waitFor(
          async () => {
            const res = await fetch(`http://127.0.0.1:${port}/healthz`);
            return res.ok && ((await res.json()) as { status: string }).status === 'ok';
          },
          { timeoutMs: 15_000, description: '/healthz' },
        );
      } catch (err) {
        await proc.stop();
        throw new Error(`${(err as Error).message}\n${proc.describe()}`);
      }
      // stop(): SIGTERM by PID (SIGKILL only if it does not exit within 10 s).
      const exit = await proc.stop(10_000);
      expect(exit, proc.describe()).toEqual({ code: 0, signal: null });
      expect(proc.output()).toContain('SIGTERM received, shutting down');
    } finally {
      await dir.cleanup();
    }
  });
});
