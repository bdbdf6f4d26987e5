/**
 * The database hot path on both stores, against real SQLite and a real PostgreSQL 15: cached prepared
 * statements give the same answers as fresh ones (also across more distinct statements than the cache holds),
 * and node status updates of many nodes, written as multi-row statements, land exactly as single-row updates
 * would, never touching a revoked node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../apps/controller/src/db/connect';
import { migrate } from '../apps/controller/src/db/migrate';
import { updateNodesSql, type NodeStatusUpdate } from '../apps/controller/src/hub/node-status-sql';
import { newNodeRow } from '../apps/controller/src/services/node-service';
import { createDatabase, startPostgres, type PostgresHandle } from './helpers/postgres';
import { tempDir, type TempDir } from './helpers/processes';

let pg: PostgresHandle | undefined;
let dir: TempDir;
const stores: OpenDatabase[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  dir = await tempDir('cf-db-hot-');
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await pg?.stop();
  await dir?.cleanup();
});

async function open(kind: 'sqlite' | 'postgres'): Promise<OpenDatabase> {
  const store = kind === 'sqlite' ? openDatabase({ dataDir: dir.path + '/' + stores.length }) : openDatabase({ dataDir: dir.path, databaseUrl: await createDatabase(pg!.url) });
  stores.push(store);
  await migrate(store, () => {});
  const now = new Date().toISOString();
  await store.db.insertInto('tenants').values({ id: 't1', name: 't', created_at: now, updated_at: now }).execute();
  await store.db.insertInto('organizations').values({ id: 'o1', tenant_id: 't1', name: 'o', created_at: now, updated_at: now }).execute();
  await store.db.insertInto('sites').values({ id: 's1', organization_id: 'o1', name: 's', created_at: now, updated_at: now }).execute();
  const rows = Array.from({ length: 130 }, (_, i) =>
    newNodeRow({ id: `n${String(i).padStart(3, '0')}`, site_id: 's1', name: `n${i}`, hostname: `n${i}.test`, is_local: 0, agent_key_hash: `h${i}` }, now),
  );
  await store.db.insertInto('nodes').values(rows).execute();
  return store;
}

describe.each(['sqlite', 'postgres'] as const)('database hot path on %s', (kind) => {
  let store: OpenDatabase;
  beforeAll(async () => {
    store = await open(kind);
  });

  it('answers repeated and many distinct statements correctly through the statement cache', async () => {
    const db = store.db;
    for (let round = 0; round < 3; round++) {
      const one = await db.selectFrom('nodes').select(['id', 'name']).where('id', '=', 'n007').executeTakeFirst();
      expect(one).toEqual({ id: 'n007', name: 'n7' });
    }
    // 1,100 distinct statement texts: more than the SQLite cache keeps; each still gives its own answer.
    for (let k = 1; k <= 1100; k += 1) {
      const ids = Array.from({ length: (k % 120) + 1 }, (_, i) => `n${String(i).padStart(3, '0')}`);
      const rows = await db.selectFrom('nodes').select('id').where('id', 'in', ids).where('route_count', '<', k + 1).execute();
      expect(rows.length).toBe(ids.length);
    }
    // A statement that writes and one that returns rows, both reused.
    for (let r = 1; r <= 3; r++) {
      const bumped = await db.updateTable('nodes').set((eb) => ({ desired_revision: eb('desired_revision', '+', 1) })).where('id', '=', 'n001').returning('desired_revision').executeTakeFirst();
      expect(Number(bumped!.desired_revision)).toBe(r);
    }
  });

  it('writes node status of many nodes in multi-row statements, leaving revoked nodes alone', async () => {
    const db = store.db;
    await db.updateTable('nodes').set({ revoked_at: new Date().toISOString(), status: 'offline' }).where('id', '=', 'n003').execute();
    const batch = new Map<string, NodeStatusUpdate>();
    // 127 heartbeats (chunks of 100, 20, 5, 1, 1), some hellos and acks with other column sets, nulls included.
    for (let i = 0; i < 127; i++) batch.set(`n${String(i).padStart(3, '0')}`, { last_seen_at: `2030-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, route_count: i, cert_count: i % 3, caddy_version: i % 2 ? 'v2.6.2' : null });
    batch.set('n127', { status: 'online', caddy_version: null, agent_version: '0.1.0', applied_revision: 42, last_error: null, caddy_modules: '["http.handlers.reverse_proxy"]', http_port: 80, https_port: 443 });
    batch.set('n128', { status: 'error', last_error: "it's \"broken\"; DROP TABLE nodes" });
    batch.set('n129', { applied_revision: 2 ** 40, status: 'online' });
    const statements = updateNodesSql(batch, '2030-01-02T00:00:00.000Z', store.dialect);
    expect(statements.length).toBe(5 + 3);
    await db.transaction().execute(async (trx) => {
      for (const st of statements) await trx.executeQuery(st);
    });
    const rows = new Map((await db.selectFrom('nodes').selectAll().execute()).map((r) => [r.id, r]));
    for (let i = 0; i < 127; i++) {
      const r = rows.get(`n${String(i).padStart(3, '0')}`)!;
      if (i === 3) {
        expect(r.route_count).toBe(0);
        expect(r.last_seen_at).toBeNull();
        continue;
      }
      expect(r.route_count).toBe(i);
      expect(r.cert_count).toBe(i % 3);
      expect(r.caddy_version).toBe(i % 2 ? 'v2.6.2' : null);
      expect(r.last_seen_at).toBe(`2030-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`);
      expect(r.status).toBe('pending');
      expect(r.updated_at).toBe('2030-01-02T00:00:00.000Z');
    }
    expect(rows.get('n127')).toMatchObject({ status: 'online', caddy_version: null, agent_version: '0.1.0', applied_revision: 42, last_error: null, route_count: 0, caddy_modules: '["http.handlers.reverse_proxy"]', http_port: 80, https_port: 443 });
    expect(rows.get('n128')).toMatchObject({ status: 'error', last_error: "it's \"broken\"; DROP TABLE nodes" });
    expect(Number(rows.get('n129')!.applied_revision)).toBe(2 ** 40);
    expect(rows.get('n003')!.status).toBe('offline');
  });

  it('writes upstream health reports (large JSON text) through the same statements', async () => {
    const report = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ address: `10.200.${i >> 8}.${i & 255}:8080`, healthy: i % 3 ? true : i % 2 ? false : null, fails: i % 5, numRequests: 0 })));
    const batch = new Map<string, NodeStatusUpdate>([['n120', { upstream_health: report, upstream_health_at: '2030-01-03T00:00:00.000Z', last_seen_at: '2030-01-03T00:00:00.000Z' }]]);
    for (const st of updateNodesSql(batch, '2030-01-03T00:00:00.000Z', store.dialect)) await store.db.executeQuery(st);
    const row = await store.db.selectFrom('nodes').select(['upstream_health', 'upstream_health_at']).where('id', '=', 'n120').executeTakeFirstOrThrow();
    expect(row).toEqual({ upstream_health: report, upstream_health_at: '2030-01-03T00:00:00.000Z' });
  });
});
