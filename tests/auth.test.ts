import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD, TestStore, type TestController } from './helpers/controller';
import { tempDir } from './helpers/processes';

describe('authentication', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  async function controller(flags: Record<string, string> = {}): Promise<TestController> {
    const store = await TestStore.create('sqlite');
    const t = await store.start(flags);
    cleanup.push(() => store.dispose(), () => t.close());
    return t;
  }

  const login = (t: TestController, username: string, password: string, ip = '127.0.0.1') =>
    t.c.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress: ip });

  it('refuses a wrong password and sets a strict HttpOnly cookie on success', async () => {
    const t = await controller();
    const wrong = await login(t, 'admin', 'not-the-password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('invalid_credentials');
    const unknownUser = await login(t, 'nobody', 'whatever');
    expect(unknownUser.json().error.code).toBe('invalid_credentials');

    const ok = await login(t, 'admin', ADMIN_PASSWORD);
    expect(ok.statusCode).toBe(200);
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toMatch(/^cf_session=cfs_[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).not.toContain('Secure');
    const session = cookie.split(';')[0]!;
    const stored = await t.db.selectFrom('sessions').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(session.split('=')[1]);

    const me = await t.request('GET', '/auth/me', { headers: { cookie: session } });
    expect(me.body).toMatchObject({ label: 'admin', role: 'admin' });
    expect((await t.request('POST', '/auth/logout', { headers: { cookie: session, 'x-requested-with': 'caddyfleet' } })).status).toBe(204);
    expect((await t.request('GET', '/auth/me', { headers: { cookie: session } })).status).toBe(401);
  });

  it('marks the cookie Secure behind a TLS-terminating proxy', async () => {
    const t = await controller({ trustProxy: 'true' });
    const res = await t.c.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(String(res.headers['set-cookie'])).toContain('Secure');
  });

  it('rate-limits failed logins per user and address with backoff, never locking the user out elsewhere', async () => {
    const t = await controller({ loginMaxAttempts: '3' });
    for (let i = 0; i < 3; i++) expect((await login(t, 'admin', `wrong-${i}`, '10.200.0.1')).statusCode).toBe(401);
    const blocked = await login(t, 'admin', ADMIN_PASSWORD, '10.200.0.1');
    expect(blocked.statusCode, 'the address that guessed is blocked, even with the right password').toBe(429);
    expect(blocked.json().error.code).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(t, 'admin', ADMIN_PASSWORD, '10.200.0.2')).statusCode, 'the real admin elsewhere signs in').toBe(200);

    await t.c.services.auth.createUser({ kind: 'system', id: 's', label: 'system', role: 'admin' }, { username: 'ops', password: 'ops-password-123', role: 'admin' });
    // An address trying many users is blocked for all of them after four times the per-user count.
    for (let i = 0; i < 12; i++) expect((await login(t, `user${i}`, 'x', '10.200.0.9')).statusCode).toBe(401);
    expect((await login(t, 'ops', 'ops-password-123', '10.200.0.9')).statusCode, 'the address is blocked for every user').toBe(429);
    expect((await login(t, 'ops', 'ops-password-123', '10.200.0.10')).statusCode).toBe(200);
  });

  it('parallel wrong passwords cannot slip past the limit', async () => {
    const t = await controller({ loginMaxAttempts: '5' });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => login(t, 'admin', `wrong-${i}`, '127.0.0.9')));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(35);
  });

  it('API tokens are shown once, stored hashed, and stop working when revoked', async () => {
    const t = await controller();
    const admin = t.client(await t.login());
    const created = await admin.post('/tokens', { name: 'ci' });
    expect(created.status).toBe(201);
    const { id, token } = created.body;
    expect(token).toMatch(/^cft_[A-Za-z0-9_-]{43}$/);
    const rows = await t.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token);
    expect((await admin.get('/tokens')).body.map((x: any) => x.id)).toEqual([id]);
    expect(JSON.stringify((await admin.get('/tokens')).body)).not.toContain(token);

    const bearer = { authorization: `Bearer ${token}` };
    expect((await t.request('GET', '/routes', { headers: bearer })).status).toBe(200);
    const write = await t.request('POST', '/tenants', { headers: bearer, body: { name: 'via token' } });
    expect(write.status).toBe(201);
    const audit = (await admin.get(`/audit?entityId=${write.body.id}`)).body;
    expect(audit[0].actor).toBe('admin (token ci)');

    expect((await admin.del(`/tokens/${id}`)).status).toBe(204);
    const after = await t.request('GET', '/routes', { headers: bearer });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_token');
  });

  it('a viewer can read but not write, and a viewer token carries the viewer role', async () => {
    const t = await controller();
    const admin = t.client(await t.login());
    expect((await admin.post('/users', { username: 'vera', password: 'short' })).status).toBe(400);
    expect((await admin.post('/users', { username: 'vera', password: 'vera-password-123' })).body.role).toBe('viewer');
    expect((await admin.post('/users', { username: 'vera', password: 'vera-password-123' })).status).toBe(409);
    const viewer = t.client(await t.login('vera', 'vera-password-123'));
    expect((await viewer.get('/routes')).status).toBe(200);
    expect((await viewer.get('/nodes')).status).toBe(200);
    expect((await viewer.post('/tenants', { name: 'nope' })).status).toBe(403);
    expect((await viewer.post('/users', { username: 'x', password: 'xxxxxxxxxxxxxxx' })).status).toBe(403);
    const tok = (await viewer.post('/tokens', { name: 'read-only' })).body.token;
    const res = await t.request('POST', '/tenants', { headers: { authorization: `Bearer ${tok}` }, body: { name: 'nope' } });
    expect(res.status).toBe(403);
    expect((await viewer.get('/tokens')).body).toHaveLength(1);
  });

  it('everything but healthz, login and the agent endpoints requires auth', async () => {
    const t = await controller();
    for (const url of ['/tenants', '/organizations', '/sites', '/nodes', '/routes', '/tokens', '/audit', '/openapi.json', '/auth/me']) {
      expect((await t.request('GET', url)).status, url).toBe(401);
    }
    expect((await t.request('GET', '/metrics')).status).toBe(401);
    expect((await t.request('GET', '/healthz')).status).toBe(200);
    expect((await t.request('POST', '/agent/enroll', { body: {} })).status).toBe(400);
  });

  it('refuses cookie-authenticated unsafe requests from another origin; bearer tokens are exempt', async () => {
    const t = await controller();
    const cookie = (await t.login()).cookie!;
    const host = '127.0.0.1:8080';
    const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
      t.c.app.inject({ method, url: `/api/v1${url}`, headers: { host, ...headers }, ...(payload ? { payload } : {}) });
    const tenant = (await t.client({ cookie }).post('/tenants', { name: 'csrf' })).body;
    const refused = [
      ['another port, same site', 'POST', `/tenants`, { cookie, origin: 'http://127.0.0.1:9999', 'sec-fetch-site': 'same-site' }, { name: 'x' }],
      ['a sibling subdomain', 'PATCH', `/tenants/${tenant.id}`, { cookie, origin: 'http://evil.127.0.0.1.nip.io:8080' }, { name: 'x' }],
      ['an opaque origin', 'POST', `/tenants`, { cookie, origin: 'null' }, { name: 'x' }],
      ['a cross-site fetch without Origin', 'DELETE', `/tenants/${tenant.id}`, { cookie, 'sec-fetch-site': 'cross-site' }, undefined],
      ['a body-less POST without X-Requested-With', 'POST', '/auth/logout', { cookie }, undefined],
    ] as const;
    for (const [why, method, url, headers, body] of refused) {
      const res = await send(method, url, headers, body);
      expect(res.statusCode, why).toBe(403);
      expect(res.json().error.code, why).toBe('csrf_rejected');
    }
    expect((await t.client({ cookie }).get(`/tenants/${tenant.id}`)).body.name, 'nothing changed').toBe('csrf');

    // The dashboard: same origin, same-origin fetch metadata, JSON bodies and the header on body-less POSTs.
    const own = { cookie, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' };
    expect((await send('PATCH', `/tenants/${tenant.id}`, own, { name: 'renamed' })).statusCode).toBe(200);
    // Non-browser clients send neither header.
    expect((await send('POST', '/tenants', { cookie }, { name: 'script' })).statusCode).toBe(201);
    // A bearer token is not sent by a browser on its own: no origin check.
    const token = (await t.client({ cookie }).post('/tokens', { name: 'csrf' })).body.token;
    expect((await send('POST', '/tenants', { authorization: `Bearer ${token}`, origin: 'http://127.0.0.1:9999', 'sec-fetch-site': 'cross-site' }, { name: 'bearer' })).statusCode).toBe(201);
    expect((await send('POST', '/auth/logout', { ...own, 'x-requested-with': 'caddyfleet' })).statusCode).toBe(204);
  });

  it('generates and announces an admin password once when none is configured', async () => {
    const dir = await tempDir('cf-auth-');
    cleanup.push(() => dir.cleanup());
    const lines: string[] = [];
    const config = loadConfig('standalone', { listen: '127.0.0.1:0', dataDir: dir.path, logLevel: 'silent' }, {});
    const first = await startController(config, { listen: false, announce: (l) => lines.push(l) });
    const password = first.generatedAdminPassword!;
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(lines.join('\n')).toContain(password);
    const res = await first.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password } });
    expect(res.statusCode).toBe(200);
    const hash = (await first.store.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow()).password_hash;
    expect(hash).toMatch(/^scrypt\$/);
    await first.close();

    const again: string[] = [];
    const second = await startController(config, { listen: false, announce: (l) => again.push(l) });
    expect(second.generatedAdminPassword).toBeNull();
    expect(again).toEqual([]);
    await second.close();
  });

  it('fails fast with a readable message on bad configuration', () => {
    expect(() => loadConfig('server', { listen: 'nonsense' }, {})).toThrow(/CADDYFLEET_LISTEN \(--listen\): must look like HOST:PORT/);
    expect(() => loadConfig('server', {}, { CADDYFLEET_DATABASE_URL: 'mysql://x' })).toThrow(/CADDYFLEET_DATABASE_URL/);
    expect(() => loadConfig('server', {}, { CADDYFLEET_ADMIN_PASSWORD: 'short' })).toThrow(/at least 12/);
  });
});
