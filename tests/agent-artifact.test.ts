/**
 * The self-contained agent, for real: dist/caddyfleet-agent-linux-x64 (built like `npm run build` does), copied
 * out of the repository and run with a PATH that has no node, against a real controller and a real Caddy on
 * loopback. Also the controller's unauthenticated downloads and install script, and the install command in the
 * enrollment token response. (`install` itself needs a systemd host: it is only checked here to refuse a
 * non-root user before touching anything.)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { bodyOf, startUpstream, type Upstream } from '../apps/agent/test-support/fixtures';
import { AGENT_PACKAGE_VERSION, ensureAgentArtifact } from './helpers/agent-artifact';
import { freePort, requireBinary, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './helpers/processes';

const CADDY = '/usr/bin/caddy';
const hasCaddy = requireBinary(CADDY, 'caddy');
const PASSWORD = 'agent-artifact-admin-password';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!hasCaddy)('caddyfleet-agent single executable', () => {
  let dir: TempDir;
  let controller: RunningController;
  let upstream: Upstream;
  let artifact: string;
  /** The artifact copied into a directory of its own, away from the repository and node_modules. */
  let exe: string;
  /** A PATH with nothing in it: the agent finds Caddy by absolute path and must not need node. */
  let emptyPath: string;
  let agent: LoggedProcess | undefined;
  let cookie = '';

  async function api(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${controller.url}/api/v1${path}`, {
      method,
      headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    if (path === '/auth/login') cookie = String(res.headers.get('set-cookie')).split(';')[0]!;
    return text ? JSON.parse(text) : null;
  }

  const runExe = (args: string[], opts: { uid?: number } = {}) => {
    const [cmd, argv] = opts.uid === undefined ? [exe, args] : ['/usr/bin/setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', exe, ...args]];
    return spawnSync(cmd, argv, { encoding: 'utf8', env: { PATH: emptyPath, HOME: dir.path }, cwd: dir.path, timeout: 30_000 });
  };

  beforeAll(async () => {
    artifact = ensureAgentArtifact();
    dir = await tempDir('caddyfleet-agent-artifact-');
    await chmod(dir.path, 0o755); // the non-root check runs the copy as nobody
    emptyPath = join(dir.path, 'empty-path');
    await mkdir(emptyPath);
    exe = join(dir.path, 'bin', 'caddyfleet-agent');
    await mkdir(join(dir.path, 'bin'), { mode: 0o755 });
    await copyFile(artifact, exe);
    await chmod(exe, 0o755);
    upstream = await startUpstream('A');
    const config = loadConfig(
      'server',
      { listen: '127.0.0.1:0', dataDir: join(dir.path, 'controller'), adminPassword: PASSWORD, logLevel: 'silent', heartbeatSeconds: '1', agentArtifact: artifact },
      {},
    );
    controller = await startController(config, { announce: () => {} });
    await api('POST', '/auth/login', { username: 'admin', password: PASSWORD });
  }, 300_000);

  afterAll(async () => {
    await agent?.stop(10_000);
    await controller?.close();
    await upstream?.close();
    await dir?.cleanup();
  });

  it('is under 120 MB and reports its version without node on PATH', async () => {
    expect((await stat(artifact)).size).toBeLessThan(120 * 1024 * 1024);
    expect(spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: emptyPath } }).status).not.toBe(0);
    const v = runExe(['--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(AGENT_PACKAGE_VERSION);
    expect(runExe(['version']).stdout).toMatch(new RegExp(`^caddyfleet-agent ${AGENT_PACKAGE_VERSION.replace(/\./g, '\\.')} \\(Node\\.js v\\d+`));
    const help = runExe(['install', '--help']).stdout;
    for (const flag of ['--controller', '--token', '--token-stdin', '--name', '--http-listen', '--https-listen']) expect(help).toContain(flag);
  });

  it('serves the agent, its checksum and the install script without authentication', async () => {
    const file = await readFile(artifact);
    const base = controller.url;
    const sums = await fetch(`${base}/downloads/caddyfleet-agent-linux-x64.sha256`);
    expect(sums.status).toBe(200);
    const sumText = await sums.text();
    expect(sumText).toBe(`${sha256(file)}  caddyfleet-agent-linux-x64\n`);
    expect(sumText).toBe(await readFile(`${artifact}.sha256`, 'utf8'));

    const dl = await fetch(`${base}/downloads/caddyfleet-agent-linux-x64`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('application/octet-stream');
    expect(dl.headers.get('content-length')).toBe(String(file.length));
    expect(sha256(Buffer.from(await dl.arrayBuffer()))).toBe(sha256(file));

    const script = await fetch(`${base}/install.sh`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/x-shellscript/);
    const text = await script.text();
    // No --public-url: the script names the URL the request came in on.
    expect(text).toContain(`CONTROLLER='${base}'`);
    const check = spawnSync('/bin/sh', ['-n'], { input: text, encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('says how to get the artifact when it is not built, and refuses a Host header it cannot use', async () => {
    const config = loadConfig('server', { dataDir: join(dir.path, 'ctl2'), adminPassword: PASSWORD, logLevel: 'silent', agentArtifact: join(dir.path, 'missing') }, {});
    const other = await startController(config, { listen: false, announce: () => {} });
    try {
      for (const url of ['/downloads/caddyfleet-agent-linux-x64', '/downloads/caddyfleet-agent-linux-x64.sha256']) {
        const res = await other.app.inject({ method: 'GET', url });
        expect(res.statusCode).toBe(404);
        expect(res.json().error).toMatchObject({ code: 'agent_artifact_missing', message: expect.stringContaining('npm run build') });
      }
      const bad = await other.app.inject({ method: 'GET', url: '/install.sh', headers: { host: "x.example';id;'" } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('public_url_unknown');
    } finally {
      await other.close();
    }
  });

  it('runs from the copy: enrolls, comes online with its version, serves a route, stops on SIGTERM', async () => {
    const tenant = await api('POST', '/tenants', { name: 'T' });
    const org = await api('POST', '/organizations', { name: 'O', tenantId: tenant.id });
    const site = await api('POST', '/sites', { name: 'S', organizationId: org.id });
    const created = await api('POST', `/sites/${site.id}/enrollment-tokens`, {});
    expect(created.publicUrl).toBe(controller.url);
    expect(created.command).toBe(`curl -fsSL ${controller.url}/install.sh | CADDYFLEET_ENROLLMENT_TOKEN=${created.token} sh`);

    const httpPort = await freePort();
    const stateDir = join(dir.path, 'state');
    agent = spawnLogged(
      exe,
      ['run', '--controller', controller.url, '--state-dir', stateDir, '--caddy-bin', CADDY, '--name', 'artifact-node',
        '--http-listen', `127.0.0.1:${httpPort}`, '--https-listen', `127.0.0.1:${await freePort()}`, '--reconnect-max-ms', '1000'],
      { env: { PATH: emptyPath, HOME: dir.path, CADDYFLEET_ENROLLMENT_TOKEN: created.token }, cwd: dir.path, name: 'caddyfleet-agent' },
    );
    const nodes = await waitFor(async () => ((await api('GET', '/nodes')) as { id: string; name: string; status: string }[]).find((n) => n.name === 'artifact-node' && n.status === 'online'), {
      timeoutMs: 30_000,
      description: `artifact-node online\n${agent.describe()}`,
    });
    const node = await api('GET', `/nodes/${nodes.id}`);
    expect(node).toMatchObject({ agentVersion: AGENT_PACKAGE_VERSION, caddyVersion: expect.stringMatching(/^v?2\./) });

    await api('POST', '/routes', { kind: 'proxy', nodeId: node.id, domains: ['artifact.test'], upstreams: [{ host: '127.0.0.1', port: upstream.port }], tls: 'off' });
    expect(await waitFor(() => bodyOf(httpPort, 'artifact.test'), { timeoutMs: 15_000, description: 'artifact.test served' })).toBe('A artifact.test/');

    // The token was spent at enrollment and is written nowhere; pino logged JSON lines to stderr.
    for (const f of await readdir(stateDir)) {
      if (f.endsWith('.json')) expect(await readFile(join(stateDir, f), 'utf8')).not.toContain(created.token);
    }
    expect(agent.output()).toMatch(/^\{"level":30,.*"msg":"agent started"/m);

    const exit = await agent.stop(10_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
  });

  it('refuses install and uninstall for a non-root user before changing anything', () => {
    const install = runExe(['install', '--controller', controller.url, '--token', 'cfe_not_a_real_token_0123456789'], { uid: 65534 });
    expect(install.status).toBe(1);
    expect(install.stderr).toContain('caddyfleet-agent: error: must run as root');
    const uninstall = runExe(['uninstall'], { uid: 65534 });
    expect(uninstall.status).toBe(1);
    expect(uninstall.stderr).toContain('must run as root');
  });

  it('stops with a config error (exit 78) on bad options', () => {
    const r = runExe(['run', '--state-dir', join(dir.path, 'bad'), '--caddy-bin', CADDY, '--http-listen', 'nonsense']);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('CADDYFLEET_HTTP_LISTEN (--http-listen): must look like [HOST]:PORT');
  });
});
