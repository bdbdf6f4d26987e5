/**
 * Accounts after creation: changing one's password, an admin resetting or removing users, listing and ending
 * sessions; and live event streams that end with the credential they were opened with.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD } from './helpers/controller';
import { tempDir, waitFor, type TempDir } from './helpers/processes';

describe('accounts and sessions', () => {
  let dir: TempDir;
  let c: RunningController;
  let base = '';

  beforeAll(async () => {
    dir = await tempDir('cf-accounts-');
    c = await startController(loadConfig('server', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {}), { announce: () => {} });
    base = c.url;
  });
  afterAll(async () => {
    await c?.close();
    await dir?.cleanup();
  });

  async function login(username: string, password: string): Promise<string> {
    const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  async function call(auth: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = auth.startsWith('cf_session=') ? { cookie: auth, 'x-requested-with': 'test' } : { authorization: `Bearer ${auth}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** Opens the SSE feed; `ended` resolves when the server ends it. */
  function stream(auth: string): Promise<{ ended: Promise<void>; close: () => void }> {
    return new Promise((resolve, reject) => {
      const headers = auth.startsWith('cf_session=') ? { cookie: auth } : { authorization: `Bearer ${auth}` };
      const req = http.get(`${base}/api/v1/events`, { headers }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
        const ended = new Promise<void>((r) => res.on('end', () => r()));
        res.once('data', () => resolve({ ended, close: () => req.destroy() }));
        res.resume();
      });
      req.on('error', () => {});
    });
  }

  const addUser = async (admin: string, username: string, role = 'viewer') =>
    (await call(admin, 'POST', '/users', { username, password: `${username}-password-123`, role })).body as { id: string };

  it('changing your password ends your other sessions and their streams, not this one', async () => {
    const admin = await login('admin', ADMIN_PASSWORD);
    const user = await addUser(admin, 'pat');
    const here = await login('pat', 'pat-password-123');
    const there = await login('pat', 'pat-password-123');
    const thereStream = await stream(there);

    const wrong = await call(here, 'POST', '/auth/password', { currentPassword: 'not-it', newPassword: 'pat-new-password-1' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details).toEqual([{ path: 'currentPassword', message: 'is wrong' }]);
    const short = await call(here, 'POST', '/auth/password', { currentPassword: 'pat-password-123', newPassword: 'short' });
    expect(short.body.error.code).toBe('validation_failed');

    const ok = await call(here, 'POST', '/auth/password', { currentPassword: 'pat-password-123', newPassword: 'pat-new-password-1' });
    expect(ok).toMatchObject({ status: 200, body: { endedSessions: 1 } });
    await thereStream.ended;
    expect((await call(there, 'GET', '/auth/me')).status).toBe(401);
    expect((await call(here, 'GET', '/auth/me')).body.label).toBe('pat');
    await expect(login('pat', 'pat-password-123')).rejects.toThrow(/401/);
    await login('pat', 'pat-new-password-1');
    const audit = (await call(admin, 'GET', `/audit?entityId=${user.id}`)).body;
    expect(audit[0]).toMatchObject({ action: 'update', actor: 'pat', after: { passwordChanged: true } });
    expect(JSON.stringify(audit)).not.toContain('pat-new-password-1');
  });

  it('an admin resets a password (ending every session), changes roles, removes users, never the last admin', async () => {
    const admin = await login('admin', ADMIN_PASSWORD);
    const user = await addUser(admin, 'robin');
    const session = await login('robin', 'robin-password-123');
    const token = (await call(session, 'POST', '/tokens', { name: 'robin-ci' })).body.token as string;
    const sessionStream = await stream(session);
    const tokenStream = await stream(token);

    expect((await call(admin, 'PATCH', `/users/${user.id}`, { password: 'robin-reset-password' })).status).toBe(200);
    await sessionStream.ended;
    expect((await call(session, 'GET', '/auth/me')).status).toBe(401);
    expect((await call(token, 'GET', '/auth/me')).status, 'API tokens stay valid after a reset').toBe(200);
    expect((await call(admin, 'PATCH', `/users/${user.id}`, { role: 'admin' })).body.role).toBe('admin');
    expect((await call(token, 'POST', '/tenants', { name: 'as admin now' })).status).toBe(201);

    const me = (await call(admin, 'GET', '/auth/me')).body;
    expect((await call(admin, 'PATCH', `/users/${user.id}`, { role: 'viewer' })).status).toBe(200);
    const lastAdmin = await call(admin, 'PATCH', `/users/${me.id}`, { role: 'viewer' });
    expect(lastAdmin).toMatchObject({ status: 409, body: { error: { code: 'last_admin' } } });
    expect((await call(admin, 'DELETE', `/users/${me.id}`)).body.error.code).toBe('last_admin');
    expect((await call(admin, 'PATCH', `/users/${user.id}`, {})).status).toBe(400);

    expect((await call(admin, 'DELETE', `/users/${user.id}`)).status).toBe(204);
    await tokenStream.ended;
    expect((await call(token, 'GET', '/auth/me')).status).toBe(401);
    expect((await call(admin, 'GET', '/users')).body.map((u: any) => u.username)).not.toContain('robin');
    expect((await call(admin, 'DELETE', `/users/${user.id}`)).status).toBe(404);
  });

  it('lists sessions (admins all, others their own) and ends one with its streams', async () => {
    const admin = await login('admin', ADMIN_PASSWORD);
    await addUser(admin, 'sam');
    const sam = await login('sam', 'sam-password-123');
    const samStream = await stream(sam);

    const mine = (await call(sam, 'GET', '/sessions')).body as any[];
    expect(mine.every((s) => s.username === 'sam')).toBe(true);
    expect(mine.filter((s) => s.current)).toHaveLength(1);
    expect(JSON.stringify(mine)).not.toContain(sam.split('=')[1]);
    const all = (await call(admin, 'GET', '/sessions')).body as any[];
    expect(new Set(all.map((s) => s.username))).toEqual(new Set(['admin', 'sam', 'pat']));
    const adminSession = all.find((s) => s.username === 'admin' && s.current);
    expect(adminSession.id).toMatch(/^ses_[0-9a-f]{24}$/);

    expect((await call(sam, 'DELETE', `/sessions/${adminSession.id}`)).status, "a viewer cannot end the admin's session").toBe(404);
    const samSession = mine.find((s) => s.current);
    expect((await call(admin, 'DELETE', `/sessions/${samSession.id}`)).status).toBe(204);
    await samStream.ended;
    expect((await call(sam, 'GET', '/auth/me')).status).toBe(401);
    expect((await call(admin, 'DELETE', `/sessions/ses_nope`)).status).toBe(404);
  });

  it('logging out and revoking a token end the streams they opened', async () => {
    const admin = await login('admin', ADMIN_PASSWORD);
    const adminStream = await stream(admin);
    const token = (await call(admin, 'POST', '/tokens', { name: 'stream' })).body;
    const tokenStream = await stream(token.token);
    const other = await login('admin', ADMIN_PASSWORD);
    const otherStream = await stream(other);
    expect((await call(admin, 'DELETE', `/tokens/${token.id}`)).status).toBe(204);
    await tokenStream.ended;
    expect((await call(admin, 'POST', '/auth/logout')).status).toBe(204);
    await adminStream.ended;
    // The other session's stream is still open.
    let otherEnded = false;
    void otherStream.ended.then(() => (otherEnded = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(otherEnded).toBe(false);
    otherStream.close();
    await waitFor(async () => (await call(other, 'GET', '/auth/me')).status === 200);
  });
});
