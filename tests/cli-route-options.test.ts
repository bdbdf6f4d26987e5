/**
 * The CLI's stream and proxy host options, and node capability views (`node bin/caddyfleet.mjs …` as a child process) against a
 * real controller in this process: `routes add stream --sni … --proxy-protocol …`, the 409 of a server name
 * already routed on the port, `routes add proxy` with every option flag, `routes maintenance`, `routes show`,
 * `nodes show` (modules, listeners) and `nodes certs`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { runCli } from './helpers/cli';
import { tempDir, type TempDir } from './helpers/processes';

const PASSWORD = 'a-long-test-password';

describe('caddyfleet CLI: stream and proxy host options, node capabilities', () => {
  let dir: TempDir;
  let controller: RunningController;
  let env: Record<string, string>;

  const cli = (args: string[], input = '') => runCli(args, { input, env });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli([...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-cli-streams-');
    controller = await startController(loadConfig('standalone', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: PASSWORD, logLevel: 'silent' }));
    env = { HOME: dir.path, CADDYFLEET_URL: controller.url };
    const login = await cli(['login', '--password-stdin'], `${PASSWORD}\n`);
    env.CADDYFLEET_TOKEN = /^export CADDYFLEET_TOKEN=(\S+)$/m.exec(login.stdout)![1]!;
  });

  afterAll(async () => {
    await controller?.close();
    await dir?.cleanup();
  });

  it('adds streams routed by TLS server name on one port, with a PROXY protocol header', async () => {
    const a = await json<{ id: string; sni: string[]; proxyProtocol: string; listen: unknown }>([
      'routes', 'add', 'stream', '--listen', '8443', '--sni', 'a.example.com', '--sni', 'b.example.com', '--upstream', '10.0.0.7:443', '--proxy-protocol', 'v2',
    ]);
    expect(a).toMatchObject({ sni: ['a.example.com', 'b.example.com'], proxyProtocol: 'v2', listen: { port: 8443, protocol: 'tcp' } });
    const c = await json<{ sni: string[] }>(['routes', 'add', 'stream', '--listen', '8443/tcp', '--sni', 'c.example.com', '--upstream', '10.0.0.8:443']);
    expect(c.sni).toEqual(['c.example.com']);
    expect(c).not.toHaveProperty('proxyProtocol');

    const dup = await cli(['routes', 'add', 'stream', '--listen', '8443', '--sni', 'b.example.com', '--upstream', '10.0.0.9:443']);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('error (409 listen_conflict)');
    expect(dup.stderr).toContain('server name b.example.com on tcp port 8443');

    const shown = await cli(['routes', 'show', a.id]);
    expect(shown.stdout).toMatch(/^TLS server names: +a\.example\.com, b\.example\.com$/m);
    expect(shown.stdout).toMatch(/^PROXY protocol: +v2$/m);
    expect((await cli(['routes', 'list'])).stdout).toContain('8443/tcp sni=a.example.com,b.example.com');
  });

  it('refuses a bad PROXY protocol version and server names on udp, naming the field', async () => {
    const bad = await cli(['routes', 'add', 'stream', '--listen', '9000', '--upstream', '10.0.0.7:9000', '--proxy-protocol', 'v3']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/argument 'v3' is invalid/);
    const udp = await cli(['routes', 'add', 'stream', '--listen', '53/udp', '--sni', 'dns.example.com', '--upstream', '10.0.0.7:53']);
    expect(udp.code).not.toBe(0);
    expect(udp.stderr).toContain('error (400 validation_failed)');
    expect(udp.stderr).toContain('sni: server names (TLS SNI) need a tcp listener');
  });

  it('adds a proxy host with every option flag, shows them, and switches maintenance on and off', async () => {
    const hash = '$2a$14$YstSMejvfVJZAyvDYQNB1ebWKhojlEtdr3uTXfpazFogFxB9Wp6yG';
    const r = await json<{ id: string; options: Record<string, unknown> }>([
      'routes', 'add', 'proxy', '--domain', 'opts.example.com', '--upstream', '10.0.0.5:8443', '--upstream', '10.0.0.6:8443', '--tls', 'internal',
      '--upstream-https', '--skip-verify', '--lb', 'least_conn', '--location', '/api=10.0.0.7:80,10.0.0.8:80', '--hsts',
      '--request-header', 'X-Forwarded-Proto: https', '--remove-request-header', 'X-Debug',
      '--response-header', 'X-Frame-Options: DENY', '--remove-response-header', 'Server',
      '--basic-auth', `alice:${hash}`, '--allow', '10.0.0.0/8', '--deny', '10.0.0.66',
    ]);
    expect(r.options).toEqual({
      upstreamScheme: 'https',
      skipVerify: true,
      loadBalancing: 'least_conn',
      locations: [{ path: '/api', upstreams: [{ host: '10.0.0.7', port: 80 }, { host: '10.0.0.8', port: 80 }] }],
      hsts: true,
      headers: { request: { set: { 'X-Forwarded-Proto': 'https' }, remove: ['X-Debug'] }, response: { set: { 'X-Frame-Options': 'DENY' }, remove: ['Server'] } },
      basicAuth: [{ username: 'alice', passwordHash: hash }],
      access: { allow: ['10.0.0.0/8'], deny: ['10.0.0.66'] },
    });
    const shown = (await cli(['routes', 'show', r.id])).stdout;
    expect(shown).toMatch(/^Upstream TLS: +https \(certificate not verified\)$/m);
    expect(shown).toMatch(/^Location \/api: +10\.0\.0\.7:80, 10\.0\.0\.8:80$/m);
    expect(shown).toMatch(/^Basic auth users: +alice$/m);
    expect(shown).not.toContain(hash);

    const on = await json<{ options: Record<string, unknown> }>(['routes', 'maintenance', r.id, 'on']);
    expect(on.options).toMatchObject({ maintenance: true, loadBalancing: 'least_conn' });
    const off = await json<{ options: Record<string, unknown> }>(['routes', 'maintenance', r.id, 'off']);
    expect(off.options).not.toHaveProperty('maintenance');
    expect(off.options).toMatchObject({ hsts: true });
    const wrong = await cli(['routes', 'maintenance', r.id, 'maybe']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('state must be on or off');

    const plain = await cli(['routes', 'add', 'proxy', '--domain', 'plain.example.com', '--upstream', '10.0.0.5:80', '--tls', 'off', '--hsts', '--basic-auth', 'bob:hunter2']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('error (400 validation_failed)');
    expect(plain.stderr).toMatch(/options\.(hsts|basicAuth\.0\.passwordHash)/);
  });

  it("shows a node's modules and listeners, and its certificates", async () => {
    // No agent has reported for the local node in this test: both unknown.
    const shown = await cli(['nodes', 'show', 'local']);
    expect(shown.stdout).toMatch(/^Caddy modules: +unknown$/m);
    expect(shown.stdout).toMatch(/^Listeners: +unknown$/m);
    expect((await cli(['nodes', 'certs', 'local'])).stdout).toBe('no certificates reported yet\n');
    expect(await json(['nodes', 'certs', 'local'])).toEqual({ nodeId: 'local', reportedAt: null, certificates: [] });
    const missing = await cli(['nodes', 'certs', 'nope']);
    expect(missing.stderr).toContain('error (404 not_found)');
  });
});
