/**
 * The `caddyfleet` CLI as users run it (real child processes) for operations beyond the basics: output piped into
 * `head`, one-line errors, route problems in tables, an agent started with its token from a file and stopped
 * with Ctrl-C, and users, sessions and passwords. A real controller runs in this process (SQLite in a temp dir).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { BIN, CLI_TIMEOUT_MS, ROOT, cleanEnv, ok, okJson, parseTable, runCli, show } from './helpers/cli';
import { CADDY_BIN, requireCaddy } from './helpers/fleet-agent';
import { freePort, spawnLogged, tempDir, waitFor, type TempDir } from './helpers/processes';
import { connectPeer, helloFrame } from './helpers/raw-agent';

const PASSWORD = 'a-long-test-password';

describe('caddyfleet CLI without a controller', () => {
  it('ends quietly when its reader goes away (| head) and prints errors as one line', async () => {
    for (const args of ['--help', 'agent --help']) {
      const piped = spawnSync('bash', ['-c', `node ${BIN} ${args} | head -1; exit \${PIPESTATUS[0]}`], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: CLI_TIMEOUT_MS });
      expect(piped.status, `${args}: ${piped.stderr}`).toBe(0);
      expect(piped.stderr).toBe('');
      expect(piped.stdout).toMatch(/^Usage: caddyfleet/);
    }
    const dir = await tempDir('caddyfleet-cli-badstate-');
    try {
      fs.writeFileSync(join(dir.path, 'agent.json'), '{not json');
      const r = await runCli(['agent', '--state-dir', dir.path, '--caddy-bin', '/usr/bin/caddy']);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toMatch(/^error: .*agent\.json: is not valid JSON.*fix or remove it\n$/);
      const debug = await runCli(['agent', '--state-dir', dir.path, '--caddy-bin', '/usr/bin/caddy'], { env: { CADDYFLEET_DEBUG: '1' } });
      expect(debug.stderr).toMatch(/^\s+at /m);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('caddyfleet CLI operations against a controller', () => {
  let dir: TempDir;
  let controller: RunningController;
  let anon: Record<string, string>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-cli-ops-');
    controller = await startController(loadConfig('standalone', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: PASSWORD, logLevel: 'silent' }), { announce: () => {} });
    anon = { CADDYFLEET_URL: controller.url };
    const r = await runCli(['login', '--password-stdin'], { env: anon, input: `${PASSWORD}\n` });
    expect(r.code, show(r)).toBe(0);
    env = { ...anon, CADDYFLEET_TOKEN: /^export CADDYFLEET_TOKEN=(\S+)$/m.exec(r.stdout)![1]! };
  });

  afterAll(async () => {
    await controller?.close();
    await dir?.cleanup();
  });

  it('names nodes in route tables and shows route problems in routes list, nodes list and at creation', async () => {
    const site = (await okJson<{ siteId: string }>(['nodes', 'show', 'local'], env)).siteId;
    const token = (await okJson<{ token: string }>(['sites', 'token', site], env)).token;
    const enrolled = await fetch(`${controller.url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, name: 'edge-no-l4', hostname: 'edge.test' }) });
    const { nodeId, agentKey } = (await enrolled.json()) as { nodeId: string; agentKey: string };
    const peer = await connectPeer(`${controller.url.replace('http', 'ws')}/api/v1/agent/connect`, agentKey);
    peer.send(helloFrame(0, ['http.handlers.reverse_proxy', 'http.handlers.static_response']));
    await waitFor(async () => (await okJson<{ caddyModules: unknown }>(['nodes', 'show', nodeId], env)).caddyModules !== null);

    const add = ['routes', 'add', 'stream', '--node', nodeId, '--listen', '6432/tcp', '--upstream', '127.0.0.1:5432'];
    const refused = await runCli(add, { env });
    expect(refused.code, show(refused)).not.toBe(0);
    expect(refused.stderr).toMatch(/has no module layer4/);
    // Disabled it is accepted, and what the node lacks is said at once.
    const created = await runCli([...add, '--disabled'], { env });
    expect(created.code, show(created)).toBe(0);
    expect(created.stdout).toContain('warning: stream routes need the layer4 Caddy module');
    const rows = parseTable(await ok(['routes', 'list', '--node', nodeId], env));
    expect(rows[1]![4], 'the node by name').toBe('edge-no-l4');
    expect(rows[1]![9]).toMatch(/layer4/);
    const nodes = parseTable(await ok(['nodes', 'list'], env));
    expect(nodes.find((r) => r[0] === nodeId)![9]).toBe('1 route not served (see routes list)');
    expect(nodes.find((r) => r[0] === 'local')![9]).toBe('-');
    peer.ws.close();
  });

  it.skipIf(!requireCaddy())('runs an agent with the token from a file (not in ps) and stops quietly on Ctrl-C', async () => {
    const site = (await okJson<{ siteId: string }>(['nodes', 'show', 'local'], env)).siteId;
    const token = (await okJson<{ token: string }>(['sites', 'token', site], env)).token;
    const dir = await tempDir('caddyfleet-cli-agent-');
    try {
      const tokenFile = join(dir.path, 'token');
      fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const [http, https] = [await freePort(), await freePort()];
      const agent = spawnLogged(
        process.execPath,
        [BIN, 'agent', '--controller', controller.url, '--token-file', tokenFile, '--state-dir', join(dir.path, 'state'), '--caddy-bin', CADDY_BIN, '--http-listen', `127.0.0.1:${http}`, '--https-listen', `127.0.0.1:${https}`, '--name', 'ctrl-c'],
        { cwd: ROOT, env: cleanEnv(), name: 'agent', processGroup: true },
      );
      try {
        await agent.waitForOutput(/running as node/, 45_000);
        expect(fs.readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8')).not.toContain(token);
        await agent.waitForOutput(/connected to the controller/, 15_000);
        // What a terminal does on Ctrl-C: SIGINT to the whole foreground process group.
        process.kill(-agent.pid, 'SIGINT');
        const exit = await Promise.race([agent.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
        expect(exit, agent.describe()).toEqual({ code: 0, signal: null });
        const errors = agent.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
        expect(errors, agent.describe()).toEqual([]);
        expect(agent.output()).toContain('caddyfleet agent: stopped');
      } finally {
        await agent.stop();
      }
    } finally {
      await dir.cleanup();
    }
  });

  it('manages users and sessions, and changes a password', async () => {
    expect(await ok(['users', 'add', 'casey', '--role', 'viewer', '--password-stdin'], env, 'casey-password-1\n')).toMatch(/added viewer casey \(usr_/);
    const casey = await runCli(['login', '--username', 'casey', '--password-stdin'], { env: anon, input: 'casey-password-1\n' });
    const caseyEnv = { ...anon, CADDYFLEET_TOKEN: /^export CADDYFLEET_TOKEN=(\S+)$/m.exec(casey.stdout)![1]! };
    const table = parseTable(await ok(['users', 'list'], env));
    expect(table[0]).toEqual(['ID', 'USERNAME', 'ROLE', 'CREATED']);
    expect(table.some((r) => r[1] === 'casey' && r[2] === 'viewer')).toBe(true);

    const wrong = await runCli(['users', 'passwd', '--password-stdin'], { env: caseyEnv, input: 'not-it\ncasey-password-2\n' });
    expect(wrong.code, show(wrong)).toBe(1);
    expect(wrong.stderr).toContain('currentPassword');
    expect(await ok(['users', 'passwd', '--password-stdin'], caseyEnv, 'casey-password-1\ncasey-password-2\n')).toContain('password changed');
    const missing = await runCli(['users', 'passwd', '--password-stdin'], { env: caseyEnv, input: 'only-one-line\n' });
    expect(missing.code, show(missing)).toBe(2);

    // A dashboard session, listed and ended from the CLI.
    const login = await fetch(`${controller.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'casey', password: 'casey-password-2' }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const sessions = await okJson<{ id: string; username: string }[]>(['sessions', 'list'], env);
    const session = sessions.find((x) => x.username === 'casey')!;
    expect(await ok(['sessions', 'revoke', session.id], env)).toContain(`ended session ${session.id}`);
    expect((await fetch(`${controller.url}/api/v1/auth/me`, { headers: { cookie } })).status).toBe(401);

    expect(await ok(['users', 'reset-password', 'casey', '--password-stdin'], env, 'casey-password-3\n')).toContain('reset');
    expect(await ok(['users', 'role', 'casey', 'admin'], env)).toContain('casey is now admin');
    expect(await ok(['users', 'rm', 'casey'], env)).toContain('removed user casey');
    const gone = await runCli(['routes', 'list'], { env: caseyEnv });
    expect(gone.stderr).toContain('error (401 invalid_token)');
    const last = await runCli(['users', 'rm', 'admin'], { env });
    expect(last.stderr).toContain('409 last_admin');
  });
});
