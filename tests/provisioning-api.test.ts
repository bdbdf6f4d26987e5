/**
 * The provisioning API without a target host: bodies are validated and a refusal changes nothing; a run that
 * cannot log in fails at `connect` with a clear message, the node goes `error`, and its steps and log stay
 * viewable (also over the SSE stream, and after a controller restart); DELETE /nodes/:id keeps routes on the
 * local node, disabled with a note when the local node already serves their domain. SQLite and PostgreSQL.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, TestStore, snapshot, type TestController } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';
import { tempDir, waitFor, type TempDir } from './helpers/processes';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PASSWORD = 'provisioning-api-secret-pw';
let pg: PostgresHandle | undefined;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

/** A TCP port on 127.0.0.1 that accepts and closes at once: not an SSH server, so the login fails fast. */
async function notSsh(): Promise<{ port: number; server: Server }> {
  const server = createServer((s) => s.end('HTTP/1.0 400 nope\r\n\r\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe.each(STORES)('provisioning API on %s', (kind) => {
  let store: TestStore;
  let t: TestController;
  let artifacts: TempDir;
  let auth: Record<string, string>;
  let siteId: string;
  const flags = () => ({ publicUrl: 'http://10.200.250.1:8080', agentArtifact: join(artifacts.path, 'agent') });

  beforeAll(async () => {
    artifacts = await tempDir('cf-prov-art-');
    await writeFile(join(artifacts.path, 'agent'), '#!/bin/sh\necho fake\n');
    store = await TestStore.create(kind, pg);
    t = await store.start(flags());
    auth = await t.login();
    siteId = (await t.client(auth).get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
    await artifacts?.cleanup();
  });

  it('refuses bad bodies with 400 and changes nothing', async () => {
    const api = t.client(auth);
    const before = await snapshot(t);
    const bad = [
      {},
      { name: 'x', siteId, ssh: { host: '10.0.0.1', user: 'root' } },
      { name: 'x', siteId, ssh: { host: '10.0.0.1', user: 'root', password: 'p', passphrase: 'q' } },
      { name: 'x', siteId, ssh: { host: 'bad_host!', user: 'root', password: 'p' } },
      { name: 'x', siteId, ssh: { host: '10.0.0.1', user: 'root', password: 'p' }, hostKeySha256: 'nope' },
      { name: 'x', siteId, ssh: { host: '10.0.0.1', user: 'root', password: 'p' }, extra: true },
    ];
    for (const body of bad) {
      const r = await api.post('/nodes/provision', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    const noSite = await api.post('/nodes/provision', { name: 'x', siteId: 'site_nope', ssh: { host: '10.0.0.1', user: 'root', password: 'p' } });
    expect(noSite.status).toBe(400);
    expect(noSite.body.error.details).toEqual([{ path: 'siteId', message: 'does not exist' }]);
    expect((await api.post('/nodes/local/provision', { ssh: { host: '10.0.0.1', user: 'root', password: 'p' } })).body.error.code).toBe('local_node');
    expect((await api.post('/nodes/node_nope/provision', { ssh: { host: '10.0.0.1', user: 'root', password: 'p' } })).status).toBe(404);
    expect((await api.get('/nodes/local/provisioning')).status).toBe(404);
    expect(await snapshot(t)).toBe(before);
  });

  it('fails a run that cannot log in at `connect`, marks the node error, and keeps steps and log viewable', async () => {
    const api = t.client(auth);
    const { port, server } = await notSsh();
    try {
      const started = await api.post('/nodes/provision', { name: 'edge-x', siteId, ssh: { host: '127.0.0.1', port, user: 'root', password: PASSWORD } });
      expect(started.status).toBe(202);
      expect(started.body.node).toMatchObject({ name: 'edge-x', status: 'provisioning', hostname: '127.0.0.1' });
      expect(started.body.job).toMatchObject({ status: 'running', target: `root@127.0.0.1:${port}`, kind: 'provision' });
      const nodeId: string = started.body.node.id;
      const job = await waitFor(
        async () => {
          const r = await api.get(`/nodes/${nodeId}/provisioning`);
          return r.body.status !== 'running' ? r.body : null;
        },
        { timeoutMs: 30_000, description: 'the run ends' },
      );
      expect(job.status).toBe('failed');
      expect(job.steps[0]).toMatchObject({ name: 'connect', status: 'failed' });
      expect(job.steps[0].message).toMatch(/127\.0\.0\.1/);
      expect(job.steps.slice(1).every((s: { status: string }) => s.status === 'skipped')).toBe(true);
      expect(job.error).toMatch(/^connect: /);
      expect(job.log).toContain(`connecting to root@127.0.0.1:${port}`);
      const node = (await api.get(`/nodes/${nodeId}`)).body;
      expect(node.status).toBe('error');
      expect(node.lastError).toMatch(/^provisioning failed at connect: /);

      // The stream replays a finished run and ends with `done`.
      const res = await t.c.app.inject({ method: 'GET', url: `/api/v1/nodes/${nodeId}/provisioning/stream`, headers: auth });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(res.body).toMatch(/^event: job\ndata: \{/);
      expect(res.body).toContain('"text":"connecting to root@127.0.0.1');
      expect(res.body.trimEnd()).toMatch(/event: done\ndata: \{"status":"failed","error":"connect: [^"]+","endedAt":"[^"]+"\}$/);
      const resumed = await t.c.app.inject({ method: 'GET', url: `/api/v1/nodes/${nodeId}/provisioning/stream`, headers: { ...auth, 'last-event-id': '2' } });
      expect(resumed.body).not.toMatch(/\nid: [12]\n/);
      expect(resumed.body).toMatch(/\nid: 3\n/);

      // A second run while one is going is refused; the password is nowhere in the database.
      const dump = await snapshot(t);
      expect(dump).not.toContain(PASSWORD);
      const rows = await t.db.selectFrom('provisioning_jobs').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(PASSWORD);
      expect(JSON.stringify(await t.db.selectFrom('audit_log').selectAll().execute())).not.toContain(PASSWORD);

      // After a restart the last run is still there.
      await t.close();
      t = await store.start(flags());
      auth = await t.login();
      const again = await t.client(auth).get(`/nodes/${nodeId}/provisioning`);
      expect(again.body).toMatchObject({ id: job.id, status: 'failed', log: job.log });
    } finally {
      server.close();
    }
  });

  it('refuses to provision when the new host could not reach the controller back', async () => {
    const loop = await store.start({ agentArtifact: join(artifacts.path, 'agent') });
    try {
      const headers = await loop.login();
      const before = await snapshot(loop);
      const r = await loop.client(headers).post('/nodes/provision', { name: 'y', siteId, ssh: { host: '10.0.0.1', user: 'root', password: 'p' } });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('public_url_required');
      expect(r.body.error.message).toMatch(/--public-url/);
      expect(await snapshot(loop)).toBe(before);
    } finally {
      await loop.close();
    }
  });

  it('DELETE keeps the routes on the local node; a domain the local node has is moved disabled with a note', async () => {
    const api = t.client(auth);
    const { port, server } = await notSsh();
    let nodeId: string;
    try {
      nodeId = (await api.post('/nodes/provision', { name: 'edge-del', siteId, ssh: { host: '127.0.0.1', port, user: 'root', password: 'pw' } })).body.node.id;
      await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'error', { timeoutMs: 30_000, description: 'node error' });
    } finally {
      server.close();
    }
    const onLocal = (await api.post('/routes', { kind: 'dead', domains: ['taken.example.com'], tls: 'off' })).body;
    const clash = (await api.post('/routes', { kind: 'dead', nodeId, domains: ['taken.example.com'], tls: 'off' })).body;
    const free = (await api.post('/routes', { kind: 'stream', nodeId, listen: { port: 7001, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.1', port: 7002 }] })).body;
    const localRev = (await api.get('/nodes/local')).body.desiredRevision;

    const del = await api.del(`/nodes/${nodeId}`);
    expect(del.status).toBe(200);
    const byId = Object.fromEntries(del.body.reassignedRoutes.map((r: { id: string }) => [r.id, r]));
    expect(byId[free.id]).toMatchObject({ nodeId: null, enabled: true, lastError: null, listen: { port: 7001, protocol: 'tcp' } });
    expect(byId[clash.id]).toMatchObject({ nodeId: null, enabled: false });
    expect(byId[clash.id].lastError).toMatch(/moved here disabled when node edge-del was deleted: domain taken\.example\.com is already served on the local node by route /);
    expect(del.body.uninstall).toEqual(expect.arrayContaining(['sudo caddyfleet-agent uninstall']));
    expect((await api.get('/nodes/local')).body.desiredRevision).toBeGreaterThan(localRev);
    expect((await api.get(`/nodes/${nodeId}/provisioning`)).status).toBe(404);

    // Enabling the moved route is refused while the clash lasts, and works once it is gone.
    const enable = await api.patch(`/routes/${clash.id}`, { enabled: true });
    expect(enable.status).toBe(409);
    expect(enable.body.error.code).toBe('domain_conflict');
    expect((await api.del(`/routes/${onLocal.id}`)).status).toBe(204);
    const enabled = await api.patch(`/routes/${clash.id}`, { enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ enabled: true, lastError: null, nodeId: null });
  });
});
