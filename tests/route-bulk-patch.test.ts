/**
 * A batch of edits that keep every route on its node with its domains (a fleet-wide upstream change) is written
 * set-based (apps/controller/src/services/route-bulk-patch.ts). It must leave the database exactly as the same
 * edits made one PATCH at a time: same revisions per node and per route, same rows, same audit entries, same
 * answers; batches it does not cover (a domain change) and failing batches behave as before. Real SQLite and
 * a real PostgreSQL 15.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, STORES, TestStore, type TestController } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';

let pg: PostgresHandle | undefined;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

interface Fleet {
  t: TestController;
  store: TestStore;
  api: ReturnType<TestController['client']>;
  nodes: string[];
  routes: string[];
}

async function fleet(kind: (typeof STORES)[number]): Promise<Fleet> {
  const store = await TestStore.create(kind, pg);
  const t = await store.start();
  const api = t.client(await t.login());
  const siteId = (await api.get('/nodes/local')).body.siteId;
  const nodes: string[] = [];
  for (const name of ['bulk-a', 'bulk-b', 'bulk-c']) {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    nodes.push((await t.request('POST', '/agent/enroll', { body: { token: tok.token, name, hostname: `${name}.test` } })).body.nodeId);
  }
  const create = [];
  for (let i = 0; i < 12; i++) {
    const nodeId = nodes[i % 3];
    const domains = [`r${i}.bulk.test`];
    if (i % 4 === 3) create.push({ kind: 'redirect', nodeId, domains, redirect: { to: 'https://old.example.org/', status: 301 }, tls: 'off' });
    else if (i % 4 === 2) create.push({ kind: 'dead', nodeId, domains, tls: 'off' });
    else create.push({ kind: 'proxy', nodeId, domains, upstreams: [{ host: '127.0.0.1', port: 8000 + i }], tls: 'off' });
  }
  const created = await api.post('/routes/batch', { create });
  expect(created.status).toBe(200);
  return { t, store, api, nodes, routes: created.body.created.map((r: any) => r.id) };
}

/** Ten edits over three nodes: upstreams, a no-op, enabling, a redirect target, TLS. */
function edits(f: Fleet) {
  return [
    { id: f.routes[0], patch: { upstreams: [{ host: '127.0.0.1', port: 9000 }] } },
    { id: f.routes[1], patch: { upstreams: [{ host: '127.0.0.1', port: 9001 }, { host: '127.0.0.2', port: 9001 }] } },
    { id: f.routes[4], patch: { upstreams: [{ host: '127.0.0.1', port: 8004 }] } },
    { id: f.routes[2], patch: { enabled: false } },
    { id: f.routes[3], patch: { redirect: { to: 'https://new.example.org/x', status: 308, preservePath: false } } },
    { id: f.routes[5], patch: { tls: 'internal' } },
    { id: f.routes[6], patch: { tls: 'internal', enabled: false } },
    { id: f.routes[8], patch: { upstreams: [{ host: '127.0.0.1', port: 9008 }] } },
    { id: f.routes[9], patch: { upstreams: [{ host: '127.0.0.1', port: 9009 }] } },
    { id: f.routes[7], patch: { redirect: { to: 'https://other.example.org', status: 302, preservePath: true } } },
  ];
}

/** The state that must agree, with ids and times replaced by positions. */
async function state(f: Fleet) {
  const idx = (id: string) => f.routes.indexOf(id);
  const clean = (r: any) => {
    if (!r) return r;
    const { id, nodeId, siteId, createdAt, updatedAt, ...rest } = r;
    return { ...rest, id: idx(id), node: f.nodes.indexOf(nodeId) };
  };
  const nodes = await f.t.db.selectFrom('nodes').select(['id', 'desired_revision']).where('id', 'in', f.nodes).execute();
  const routes = await f.t.db.selectFrom('routes').selectAll().where('id', 'in', f.routes).execute();
  const audit = await f.t.db.selectFrom('audit_log').selectAll().where('entity_type', '=', 'route').where('action', '=', 'update').orderBy('seq').execute();
  return {
    revisions: f.nodes.map((n) => Number(nodes.find((r) => r.id === n)!.desired_revision)),
    routes: routes
      .map((r) => ({ i: idx(r.id), node: f.nodes.indexOf(r.node_id), kind: r.kind, enabled: r.enabled, tls: r.tls, spec: r.spec, revision: Number(r.revision), last_error: r.last_error }))
      .sort((a, b) => a.i - b.i),
    audit: audit.map((a) => ({ actor: a.actor, entity: idx(a.entity_id), before: clean(JSON.parse(a.before_json!)), after: clean(JSON.parse(a.after_json!)) })),
  };
}

describe.each(STORES)('a batch of in-place route edits on %s', (kind) => {
  let bulk: Fleet;
  let single: Fleet;
  beforeAll(async () => {
    bulk = await fleet(kind);
    single = await fleet(kind);
  });
  afterAll(async () => {
    for (const f of [bulk, single]) {
      await f?.t.close();
      await f?.store.dispose();
    }
  });

  it('leaves the same state as the same edits one PATCH at a time', async () => {
    const res = await bulk.api.post('/routes/batch', { update: edits(bulk) });
    expect(res.status).toBe(200);
    const answers = [];
    for (const e of edits(single)) {
      const r = await single.api.patch(`/routes/${e.id}`, e.patch);
      expect(r.status).toBe(200);
      answers.push(r.body);
    }
    const strip = (f: Fleet, list: any[]) => list.map(({ id, nodeId, siteId, createdAt, updatedAt, ...rest }) => ({ ...rest, id: f.routes.indexOf(id), node: f.nodes.indexOf(nodeId) }));
    expect(strip(bulk, res.body.updated)).toEqual(strip(single, answers));
    const [a, b] = [await state(bulk), await state(single)];
    expect(a).toEqual(b);
    // Four creates per node, then one revision per real edit (the no-op on route 4 moved nothing): 4, 2 and 3.
    expect(a.revisions).toEqual([4 + 4, 4 + 2, 4 + 3]);
    expect(a.audit).toHaveLength(9);
  });

  it('runs a batch that changes domains through the general path', async () => {
    const list = edits(bulk).map((e) => ({ ...e, patch: { ...e.patch } }));
    (list[4]!.patch as Record<string, unknown>).domains = ['renamed.bulk.test'];
    const res = await bulk.api.post('/routes/batch', { update: list });
    expect(res.status).toBe(200);
    expect(res.body.updated[4].domains).toEqual(['renamed.bulk.test']);
    const indexed = await bulk.t.db.selectFrom('route_domains').select('domain').where('route_id', '=', list[4]!.id!).execute();
    expect(indexed.map((r) => r.domain)).toEqual(['renamed.bulk.test']);
  });

  it('refuses a batch with one bad edit as before, naming it, and changes nothing', async () => {
    const before = await snapshot(bulk.t);
    const list = edits(bulk);
    list[6] = { id: list[6]!.id, patch: { upstreams: [{ host: '127.0.0.1', port: 70000 }] } };
    const res = await bulk.api.post('/routes/batch', { update: list });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^update\[6\]: /);
    expect(await snapshot(bulk.t)).toBe(before);
  });
});
