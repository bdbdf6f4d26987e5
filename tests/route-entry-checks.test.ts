/**
 * Mistakes of users coming from Nginx Proxy Manager, refused where they are typed (CLI against a real controller
 * in this process, and the REST API): an access-list range with host bits set (`192.168.1.10/24`, which Caddy
 * would silently widen to the whole /24), a URL where HOST:PORT belongs, a health-check setting without the check.
 * A route stored before the range check (written to the database directly here) stays editable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { runCli } from './helpers/cli';
import { tempDir, type TempDir } from './helpers/processes';

const PASSWORD = 'a-long-test-password';
const HOST_BITS = (network: string) => `has bits set after its prefix: write ${network} for the range, or the address alone for one host`;

describe('entry checks for NPM-style mistakes', () => {
  let dir: TempDir;
  let controller: RunningController;
  let env: Record<string, string>;

  const cli = (args: string[], input = '') => runCli(args, { input, env });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${controller.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${env.CADDYFLEET_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
  };
  const proxy = (domain: string, access: object) => ({ kind: 'proxy', domains: [domain], upstreams: [{ host: '127.0.0.1', port: 9000 }], tls: 'off', options: { access } });

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-entry-checks-');
    controller = await startController(loadConfig('standalone', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: PASSWORD, logLevel: 'silent' }));
    env = { HOME: dir.path, CADDYFLEET_URL: controller.url };
    const login = await cli(['login', '--password-stdin'], `${PASSWORD}\n`);
    env.CADDYFLEET_TOKEN = /^export CADDYFLEET_TOKEN=(\S+)$/m.exec(login.stdout)![1]!;
  });

  afterAll(async () => {
    await controller?.close();
    await dir?.cleanup();
  });

  it('refuses an allow/deny range with host bits set, naming the field and the range meant, and creates nothing', async () => {
    const r = await cli(['routes', 'add', 'proxy', '--domain', 'a.localhost', '--upstream', '127.0.0.1:9000', '--tls', 'off', '--allow', '127.0.0.1', '--allow', '192.168.1.10/24']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error (400 validation_failed): invalid body: options.access.allow.1: ${HOST_BITS('192.168.1.0/24')}`);
    const batch = await api('POST', '/routes/batch', { create: [proxy('b.localhost', { deny: ['2001:db8::1/32'] })] });
    expect(batch.status).toBe(400);
    expect(batch.body.error.message).toBe(`create[0]: invalid body: options.access.deny.0: ${HOST_BITS('2001:db8::/32')}`);
    expect((await api('GET', '/routes')).body).toEqual([]);
    // The network itself, and one address, are what was meant.
    expect((await cli(['routes', 'add', 'proxy', '--domain', 'a.localhost', '--upstream', '127.0.0.1:9000', '--tls', 'off', '--allow', '192.168.1.0/24', '--deny', '192.168.1.10'])).code).toBe(0);
  });

  it('keeps a route stored before the check editable, refusing only ranges it adds', async () => {
    const created = await api('POST', '/routes', proxy('legacy.localhost', { deny: ['10.0.0.0/8'] }));
    expect(created.status).toBe(201);
    // As an older version stored it.
    const row = await controller.store.db.selectFrom('routes').select('spec').where('id', '=', created.body.id).executeTakeFirstOrThrow();
    const spec = JSON.parse(row.spec);
    spec.options.access.deny = ['10.0.0.66/8'];
    await controller.store.db.updateTable('routes').set({ spec: JSON.stringify(spec) }).where('id', '=', created.body.id).execute();

    expect((await cli(['routes', 'disable', created.body.id])).code).toBe(0);
    const kept = await api('PATCH', `/routes/${created.body.id}`, { enabled: true, options: { access: { deny: ['10.0.0.66/8', '10.1.0.0/16'] } } });
    expect(kept.status).toBe(200);
    const added = await api('PATCH', `/routes/${created.body.id}`, { options: { access: { deny: ['10.0.0.66/8', '172.16.0.1/12'] } } });
    expect(added.status).toBe(400);
    expect(added.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'options.access.deny.1', message: HOST_BITS('172.16.0.0/12') }] });
    // Also through a batch of edits (the bulk path hands it to the general one, which refuses it).
    const bulk = await api('POST', '/routes/batch', { update: [{ id: created.body.id, patch: { options: { access: { deny: ['10.0.0.66/8', '172.16.0.1/12'] } } } }] });
    expect(bulk.status).toBe(400);
    expect(bulk.body.error.message).toMatch(/options\.access\.deny\.1: has bits set/);
    expect((await api('GET', `/routes/${created.body.id}`)).body.options.access.deny).toEqual(['10.0.0.66/8', '10.1.0.0/16']);
  });

  it('says what is wrong with a URL for an upstream and a check setting without its check', async () => {
    const url = await cli(['routes', 'add', 'proxy', '--domain', 'c.localhost', '--upstream', 'http://127.0.0.1:9000']);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('write HOST:PORT without a scheme, e.g. 127.0.0.1:9000 (got "http://127.0.0.1:9000")');
    const orphan = await cli(['routes', 'add', 'proxy', '--domain', 'c.localhost', '--upstream', '127.0.0.1:9000', '--health-interval', '10']);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toContain('--health-interval needs --health-path');
    expect((await api('GET', '/routes')).body.map((r: { domains: string[] }) => r.domains[0])).not.toContain('c.localhost');
  });
});
