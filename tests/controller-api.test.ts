import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, TestStore, type TestController } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';

let pg: PostgresHandle;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

const revisionOf = async (t: TestController, nodeId = 'local') =>
  (await t.db.selectFrom('nodes').select('desired_revision').where('id', '=', nodeId).executeTakeFirstOrThrow()).desired_revision;

describe.each(STORES)('controller API on %s', (kind) => {
  let store: TestStore;
  let t: TestController;
  let api: ReturnType<TestController['client']>;

  beforeAll(async () => {
    store = await TestStore.create(kind, pg);
    t = await store.start();
    api = t.client(await t.login());
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  async function hierarchy(name: string) {
    const tenant = (await api.post('/tenants', { name: `${name} tenant` })).body;
    const org = (await api.post('/organizations', { name: `${name} org`, tenantId: tenant.id })).body;
    const site = (await api.post('/sites', { name: `${name} site`, organizationId: org.id })).body;
    return { tenant, org, site };
  }

  async function enrollNode(siteId: string, name: string): Promise<string> {
    const tok = await api.post(`/sites/${siteId}/enrollment-tokens`, {});
    expect(tok.status).toBe(201);
    const res = await t.request('POST', '/agent/enroll', { body: { token: tok.body.token, name, hostname: `${name}.internal` } });
    expect(res.status).toBe(201);
    return res.body.nodeId;
  }

  it('creates, reads, renames and deletes the hierarchy', async () => {
    const { tenant, org, site } = await hierarchy('Acme');
    expect(tenant.id).toMatch(/^ten_/);
    expect(org.tenantId).toBe(tenant.id);
    expect(site.organizationId).toBe(org.id);

    expect((await api.get(`/organizations?tenantId=${tenant.id}`)).body.map((o: any) => o.id)).toEqual([org.id]);
    expect((await api.get(`/sites?organizationId=${org.id}`)).body.map((s: any) => s.id)).toEqual([site.id]);
    expect((await api.get(`/sites/${site.id}`)).body.name).toBe('Acme site');

    const renamed = await api.patch(`/sites/${site.id}`, { name: 'Acme Berlin' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Acme Berlin');

    const refused = await api.del(`/tenants/${tenant.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('not_empty');

    expect((await api.del(`/sites/${site.id}`)).status).toBe(204);
    expect((await api.del(`/organizations/${org.id}`)).status).toBe(204);
    expect((await api.del(`/tenants/${tenant.id}`)).status).toBe(204);
    expect((await api.get(`/tenants/${tenant.id}`)).status).toBe(404);
  });

  it('creates, lists, patches and deletes routes of all four kinds', async () => {
    const bodies = [
      { kind: 'proxy', domains: ['App.Example.com', '*.apps.example.com'], upstreams: [{ host: '127.0.0.1', port: 3000 }, { host: '::1', port: 3001 }], tls: 'internal' },
      { kind: 'redirect', domains: ['old.example.com'], redirect: { to: 'https://new.example.com/', status: 308, preservePath: false } },
      { kind: 'stream', listen: { port: 5432, protocol: 'tcp' }, upstreams: [{ host: 'db.internal', port: 5432 }] },
      { kind: 'dead', domains: ['gone.example.com'], tls: 'off' },
    ];
    const created = [];
    for (const body of bodies) {
      const res = await api.post('/routes', body);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ kind: body.kind, nodeId: null, scope: 'exclusive', origin: 'central', enabled: true });
      created.push(res.body);
    }
    expect(created[0].domains).toEqual(['app.example.com', '*.apps.example.com']);
    expect(created[1].redirect).toEqual({ to: 'https://new.example.com/', status: 308, preservePath: false });
    expect(created[2].listen).toEqual({ port: 5432, protocol: 'tcp' });
    expect(created[2].tls).toBe('off');

    const all = (await api.get('/routes?nodeId=local')).body;
    expect(all.map((r: any) => r.id)).toEqual(expect.arrayContaining(created.map((r) => r.id)));
    const proxies = (await api.get('/routes?kind=proxy')).body;
    expect(proxies.every((r: any) => r.kind === 'proxy')).toBe(true);
    expect((await api.get(`/routes/${created[3].id}`)).body.domains).toEqual(['gone.example.com']);

    const patched = await api.patch(`/routes/${created[0].id}`, { upstreams: [{ host: 'web.internal', port: 8080 }], enabled: false });
    expect(patched.status).toBe(200);
    expect(patched.body.upstreams).toEqual([{ host: 'web.internal', port: 8080 }]);
    expect(patched.body.enabled).toBe(false);
    expect(patched.body.domains).toEqual(created[0].domains);

    const wrongField = await api.patch(`/routes/${created[0].id}`, { listen: { port: 80 } });
    expect(wrongField.status).toBe(400);

    for (const r of created) expect((await api.del(`/routes/${r.id}`)).status).toBe(204);
    expect((await api.get(`/routes/${created[0].id}`)).status).toBe(404);
  });

  it('bumps the node revision exactly once per committed change and never on a rejected one', async () => {
    const r0 = await revisionOf(t);
    const created = await api.post('/routes', { kind: 'proxy', domains: ['rev.example.com'], upstreams: [{ host: '127.0.0.1', port: 1 }] });
    expect(created.status).toBe(201);
    expect(await revisionOf(t)).toBe(r0 + 1);
    expect(created.body.revision).toBe(r0 + 1);

    expect((await api.post('/routes', { kind: 'dead', domains: ['rev.example.com'] })).status).toBe(409);
    expect((await api.post('/routes', { kind: 'dead', domains: ['bad_host!'] })).status).toBe(400);
    expect((await api.patch(`/routes/${created.body.id}`, { domains: ['{http.request.host}'] })).status).toBe(400);
    expect(await revisionOf(t)).toBe(r0 + 1);

    expect((await api.patch(`/routes/${created.body.id}`, { enabled: true })).status).toBe(200);
    expect(await revisionOf(t), 'a patch that changes nothing is not a change').toBe(r0 + 1);

    expect((await api.patch(`/routes/${created.body.id}`, { tls: 'off' })).body.revision).toBe(r0 + 2);
    expect((await api.del(`/routes/${created.body.id}`)).status).toBe(204);
    expect(await revisionOf(t)).toBe(r0 + 3);
  });

  it('moving a route between nodes bumps both nodes; conflicts are per node', async () => {
    const { site } = await hierarchy('Move');
    const nodeA = await enrollNode(site.id, 'edge-a');
    const nodeB = await enrollNode(site.id, 'edge-b');
    const onA = await api.post('/routes', { kind: 'proxy', nodeId: nodeA, domains: ['shared.example.com'], upstreams: [{ host: '127.0.0.11', port: 80 }] });
    expect(onA.status).toBe(201);
    expect(onA.body.siteId).toBe(site.id);
    const onB = await api.post('/routes', { kind: 'proxy', nodeId: nodeB, domains: ['shared.example.com'], upstreams: [{ host: '127.0.0.11', port: 80 }] });
    expect(onB.status, 'the same domain on two different nodes is fine').toBe(201);

    const [a0, b0] = [await revisionOf(t, nodeA), await revisionOf(t, nodeB)];
    const clash = await api.patch(`/routes/${onA.body.id}`, { nodeId: nodeB });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain(onB.body.id);
    expect([await revisionOf(t, nodeA), await revisionOf(t, nodeB)]).toEqual([a0, b0]);

    expect((await api.del(`/routes/${onB.body.id}`)).status).toBe(204);
    const moved = await api.patch(`/routes/${onA.body.id}`, { nodeId: nodeB });
    expect(moved.status).toBe(200);
    expect(moved.body.nodeId).toBe(nodeB);
    expect(await revisionOf(t, nodeA)).toBe(a0 + 1);
    expect(await revisionOf(t, nodeB)).toBe(b0 + 2);
    expect((await api.get(`/routes?nodeId=${nodeA}`)).body).toEqual([]);

    const stream1 = await api.post('/routes', { kind: 'stream', nodeId: nodeA, listen: { port: 6379 }, upstreams: [{ host: 'redis', port: 6379 }] });
    expect(stream1.status).toBe(201);
    const stream2 = await api.post('/routes', { kind: 'stream', nodeId: nodeA, listen: { port: 6379, protocol: 'tcp' }, upstreams: [{ host: 'redis2', port: 6379 }] });
    expect(stream2.status).toBe(409);
    expect(stream2.body.error.code).toBe('listen_conflict');
    const udp = await api.post('/routes', { kind: 'stream', nodeId: nodeA, listen: { port: 6379, protocol: 'udp' }, upstreams: [{ host: 'redis2', port: 6379 }] });
    expect(udp.status).toBe(201);
  });

  it('applies a batch atomically, bumping each touched node', async () => {
    const { site } = await hierarchy('Batch');
    const nodes = [await enrollNode(site.id, 'batch-1'), await enrollNode(site.id, 'batch-2')];
    const ok = await api.post('/routes/batch', {
      create: nodes.map((nodeId) => ({ kind: 'proxy', nodeId, domains: ['group.example.com'], upstreams: [{ host: '127.0.0.11', port: 80 }] })),
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.created).toHaveLength(2);
    const revs = [await revisionOf(t, nodes[0]), await revisionOf(t, nodes[1])];

    const bad = await api.post('/routes/batch', {
      update: ok.body.created.map((r: any) => ({ id: r.id, patch: { upstreams: [{ host: '127.0.0.12', port: 80 }] } })),
      create: [{ kind: 'dead', nodeId: nodes[0], domains: ['group.example.com'] }],
    });
    expect(bad.status).toBe(409);
    expect(bad.body.error.message).toMatch(/^create\[0\]:/);
    expect([await revisionOf(t, nodes[0]), await revisionOf(t, nodes[1])], 'nothing of a failed batch commits').toEqual(revs);
    expect((await api.get(`/routes/${ok.body.created[0].id}`)).body.upstreams[0].host).toBe('127.0.0.11');

    const change = await api.post('/routes/batch', {
      update: ok.body.created.map((r: any) => ({ id: r.id, patch: { upstreams: [{ host: '127.0.0.12', port: 80 }] } })),
    });
    expect(change.body.updated.map((r: any) => r.upstreams[0].host)).toEqual(['127.0.0.12', '127.0.0.12']);
    expect([await revisionOf(t, nodes[0]), await revisionOf(t, nodes[1])]).toEqual([revs[0]! + 1, revs[1]! + 1]);
    expect((await api.post('/routes/batch', {})).status).toBe(400);
    expect((await api.post('/routes/batch', { delete: ok.body.created.map((r: any) => r.id) })).body.deleted).toHaveLength(2);
  });

  it('concurrent changes to one route both land, and crossing moves do not fail', async () => {
    const { site } = await hierarchy('Race');
    const [nodeA, nodeB] = [await enrollNode(site.id, 'race-a'), await enrollNode(site.id, 'race-b')];
    for (let i = 0; i < 8; i++) {
      const r = (await api.post('/routes', { kind: 'proxy', nodeId: nodeA, domains: [`race${i}.example.com`], upstreams: [{ host: '127.0.0.1', port: 1 }] })).body;
      const [p1, p2] = await Promise.all([
        api.patch(`/routes/${r.id}`, { upstreams: [{ host: '127.0.0.1', port: 2 }] }),
        api.patch(`/routes/${r.id}`, { enabled: false }),
      ]);
      expect([p1.status, p2.status]).toEqual([200, 200]);
      const after = (await api.get(`/routes/${r.id}`)).body;
      expect(after.upstreams[0].port, 'neither change overwrote the other').toBe(2);
      expect(after.enabled).toBe(false);
    }
    const onA = (await api.post('/routes', { kind: 'dead', nodeId: nodeA, domains: ['cross-a.example.com'] })).body;
    const onB = (await api.post('/routes', { kind: 'dead', nodeId: nodeB, domains: ['cross-b.example.com'] })).body;
    for (let i = 0; i < 6; i++) {
      const [to1, to2] = i % 2 === 0 ? [nodeB, nodeA] : [nodeA, nodeB];
      const moves = await Promise.all([api.patch(`/routes/${onA.id}`, { nodeId: to1 }), api.patch(`/routes/${onB.id}`, { nodeId: to2 })]);
      expect(moves.map((m) => m.status)).toEqual([200, 200]);
    }
  });

  it('lists, renames, revokes and deletes nodes', async () => {
    const nodes = (await api.get('/nodes')).body;
    const local = nodes.find((n: any) => n.id === 'local');
    expect(local).toMatchObject({ isLocal: true, name: 'local' });
    expect((await api.del('/nodes/local')).status).toBe(409);

    const { site } = await hierarchy('Fleet');
    const nodeId = await enrollNode(site.id, 'edge-c');
    const node = (await api.get(`/nodes/${nodeId}`)).body;
    expect(node).toMatchObject({ siteId: site.id, hostname: 'edge-c.internal', status: 'pending', desiredRevision: 0, appliedRevision: 0 });
    expect((await api.get(`/nodes?siteId=${site.id}`)).body.map((n: any) => n.id)).toEqual([nodeId]);
    expect((await api.patch(`/nodes/${nodeId}`, { name: 'edge-c-renamed' })).body.name).toBe('edge-c-renamed');

    const keyHash = (await t.db.selectFrom('nodes').select('agent_key_hash').where('id', '=', nodeId).executeTakeFirstOrThrow()).agent_key_hash;
    expect(node.revokedAt).toBeNull();
    const revoked = await api.post(`/nodes/${nodeId}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const row = await t.db.selectFrom('revoked_agent_tokens').selectAll().where('node_id', '=', nodeId).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(keyHash);
    expect(row.revoked_by).toBe('admin');
    expect((await api.post(`/nodes/${nodeId}/revoke`)).status).toBe(409);

    const kept = (await api.post('/routes', { kind: 'dead', nodeId, domains: ['n.example.com'] })).body;
    const deleted = await api.del(`/nodes/${nodeId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.reassignedRoutes).toEqual([expect.objectContaining({ id: kept.id, nodeId: null, enabled: true, lastError: null })]);
    expect(deleted.body.uninstall).toContain('sudo caddyfleet-agent uninstall');
    expect((await api.get(`/routes?nodeId=${nodeId}`)).body).toEqual([]);
    expect((await api.get(`/routes/${kept.id}`)).body).toMatchObject({ nodeId: null, domains: ['n.example.com'] });
  });

  it('spends enrollment tokens once and refuses revoked or expired ones', async () => {
    const { site } = await hierarchy('Enroll');
    const tok = (await api.post(`/sites/${site.id}/enrollment-tokens`, { ttlSeconds: 600 })).body;
    expect(tok.token).toMatch(/^cfe_/);
    const stored = await t.db.selectFrom('enrollment_tokens').selectAll().where('id', '=', tok.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(tok.token);
    expect(JSON.stringify(stored)).not.toContain(tok.token);

    const body = { token: tok.token, name: 'edge', hostname: 'edge.local' };
    const enrolled = await t.request('POST', '/agent/enroll', { body });
    expect(enrolled.status).toBe(201);
    const again = await t.request('POST', '/agent/enroll', { body });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('enrollment_token_used');

    const revokeUsed = await api.del(`/enrollment-tokens/${tok.id}`);
    expect(revokeUsed.status).toBe(409);
    expect(revokeUsed.body.error.code).toBe('enrollment_token_used');
    const tok2 = (await api.post(`/sites/${site.id}/enrollment-tokens`, {})).body;
    expect((await api.del(`/enrollment-tokens/${tok2.id}`)).status).toBe(204);
    const revoked = await t.request('POST', '/agent/enroll', { body: { ...body, token: tok2.token } });
    expect(revoked.body.error.code).toBe('enrollment_token_revoked');

    const tok3 = (await api.post(`/sites/${site.id}/enrollment-tokens`, {})).body;
    await t.db.updateTable('enrollment_tokens').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', tok3.id).execute();
    const expired = await t.request('POST', '/agent/enroll', { body: { ...body, token: tok3.token } });
    expect(expired.body.error.code).toBe('enrollment_token_expired');

    const listed = (await api.get(`/sites/${site.id}/enrollment-tokens`)).body;
    expect(listed).toHaveLength(3);
    expect(listed.find((x: any) => x.id === tok.id).usedByNodeId).toBe(enrolled.body.nodeId);
    expect(JSON.stringify(listed)).not.toContain('cfe_');
  });

  it('keeps local_only routes read-only', async () => {
    const refused = await api.post('/routes', { kind: 'dead', scope: 'local_only', domains: ['local-only.example.com'] });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('route_scope_local_only');

    const now = new Date().toISOString();
    await t.db
      .insertInto('routes')
      .values({
        id: 'rt_localonly1',
        kind: 'dead',
        node_id: 'local',
        site_id: (await api.get('/nodes/local')).body.siteId,
        scope: 'local_only',
        origin: 'local',
        enabled: 1,
        tls: 'off',
        spec: JSON.stringify({ domains: ['agent-side.example.com'], upstreams: [], redirect: null, listen: null }),
        revision: 0,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const seen = await api.get('/routes/rt_localonly1');
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ scope: 'local_only', origin: 'local' });
    const patch = await api.patch('/routes/rt_localonly1', { enabled: false });
    expect(patch.status).toBe(403);
    expect(patch.body.error.code).toBe('route_scope_local_only');
    expect((await api.del('/routes/rt_localonly1')).body.error.code).toBe('route_scope_local_only');
    const central = (await api.post('/routes', { kind: 'dead', domains: ['central.example.com'] })).body;
    expect((await api.patch(`/routes/${central.id}`, { scope: 'local_only' })).status).toBe(403);
  });

  it('records who changed what in the audit log', async () => {
    const r = (await api.post('/routes', { kind: 'dead', domains: ['audited.example.com'] })).body;
    await api.patch(`/routes/${r.id}`, { domains: ['audited2.example.com'] });
    const entries = (await api.get(`/audit?entityType=route&entityId=${r.id}`)).body;
    expect(entries.map((e: any) => e.action)).toEqual(['update', 'create']);
    expect(entries[0]).toMatchObject({ actor: 'admin', before: { domains: ['audited.example.com'] }, after: { domains: ['audited2.example.com'] } });
  });

  it('documents every API.md path in the OpenAPI document and serves metrics', async () => {
    const doc = (await api.get('/openapi.json')).body;
    // Every method and path of ../shared/API.md, spelled out.
    const expected = [
      'post /auth/login', 'post /tokens', 'delete /tokens/{id}',
      ...['tenants', 'organizations', 'sites'].flatMap((r) => [`get /${r}`, `post /${r}`, `get /${r}/{id}`, `patch /${r}/{id}`, `delete /${r}/{id}`]),
      'get /nodes', 'get /nodes/{id}', 'patch /nodes/{id}', 'delete /nodes/{id}', 'post /nodes/{id}/revoke',
      'post /sites/{id}/enrollment-tokens', 'delete /enrollment-tokens/{id}',
      'get /routes', 'post /routes', 'get /routes/{id}', 'patch /routes/{id}', 'delete /routes/{id}',
      'get /openapi.json', 'post /agent/enroll',
      'post /nodes/provision', 'post /nodes/{id}/provision', 'get /nodes/{id}/provisioning',
    ];
    for (const entry of expected) {
      const [method, p] = entry.split(' ') as [string, string];
      expect(doc.paths[`/api/v1${p}`]?.[method], `${entry} in OpenAPI`).toBeTruthy();
    }
    expect(doc.paths['/api/v1/routes'].post.requestBody.content['application/json'].schema.oneOf).toHaveLength(4);

    const metrics = await t.request('GET', '/metrics', { headers: await t.login() });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/caddyfleet_http_requests_total\{method="POST",route="\/api\/v1\/routes",status="201"\} \d+/);
    expect(metrics.body).toMatch(/caddyfleet_nodes\{status="pending"\} \d+/);
    expect((await t.request('GET', '/metrics')).status).toBe(401);
    expect((await t.request('GET', '/healthz')).status).toBe(200);
  });

  it('marks every API answer nosniff, errors included', async () => {
    const answers = [
      await api.get('/routes'),
      await t.request('GET', '/routes'),
      await t.request('GET', '/api/v1/no-such-thing'),
      await t.request('POST', '/routes', { payload: '{', headers: { ...(await t.login()), 'content-type': 'application/json' } }),
      await t.request('GET', '/healthz'),
      await t.request('GET', '/metrics', { headers: await t.login() }),
      await t.request('GET', '/openapi.json', { headers: await t.login() }),
    ];
    for (const a of answers) expect(a.headers['x-content-type-options'], `${a.status} ${JSON.stringify(a.body).slice(0, 80)}`).toBe('nosniff');
  });

  it('keeps everything across a restart', async () => {
    const before = {
      routes: (await api.get('/routes')).body,
      nodes: (await api.get('/nodes')).body,
      tenants: (await api.get('/tenants')).body,
    };
    expect(before.routes.length).toBeGreaterThan(0);
    await t.close();
    t = await store.start();
    api = t.client(await t.login());
    expect((await api.get('/routes')).body).toEqual(before.routes);
    expect((await api.get('/nodes')).body).toEqual(before.nodes);
    expect((await api.get('/tenants')).body).toEqual(before.tenants);
  });
});

describe('SQLite migrations', () => {
  it('backs the database file up before applying a new migration', async () => {
    const store = await TestStore.create('sqlite');
    try {
      const t = await store.start();
      await t.db.deleteFrom('kysely_migration' as never).where('name' as never, '=', '001-initial' as never).execute();
      await t.close();
      await expect(store.start()).rejects.toThrow(/migration failed/);
      const backups = fs.readdirSync(store.dir.path).filter((f) => f.startsWith('caddyfleet.db.bak-'));
      expect(backups).toHaveLength(1);
    } finally {
      await store.dispose();
    }
  });
});
