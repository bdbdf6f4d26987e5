/**
 * Upgrading a database that was written before 005-drop-node-layer4, on real SQLite (better-sqlite3) and a real
 * PostgreSQL 15: the column goes, every other node fact stays, the controller's own writes work on the result,
 * and a second run applies nothing.
 */
import fs from 'node:fs';
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '../apps/controller/src/db/connect';
import { migrate, provider } from '../apps/controller/src/db/migrate';
import { updateNodesSql } from '../apps/controller/src/hub/node-status-sql';
import { newNodeRow } from '../apps/controller/src/services/node-service';
import { createDatabase, startPostgres, type PostgresHandle } from './helpers/postgres';
import { tempDir, type TempDir } from './helpers/processes';

let pg: PostgresHandle | undefined;
let dir: TempDir;
const stores: OpenDatabase[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  dir = await tempDir('cf-db-migrations-');
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await pg?.stop();
  await dir?.cleanup();
});

async function nodeColumns(store: OpenDatabase): Promise<string[]> {
  const q =
    store.dialect === 'sqlite'
      ? sql<{ name: string }>`select name from pragma_table_info('nodes')`
      : sql<{ name: string }>`select column_name as name from information_schema.columns where table_schema = current_schema() and table_name = 'nodes'`;
  return (await q.execute(store.db)).rows.map((r) => r.name).sort();
}

describe.each(['sqlite', 'postgres'] as const)('migration 005-drop-node-layer4 on %s', (kind) => {
  let store: OpenDatabase;

  beforeAll(async () => {
    const dataDir = `${dir.path}/${kind}`;
    store = kind === 'sqlite' ? openDatabase({ dataDir }) : openDatabase({ dataDir, databaseUrl: await createDatabase(pg!.url) });
    stores.push(store);
    // The schema as the previous release left it, with nodes whose agents had reported the flag.
    const { error } = await new Migrator({ db: store.db, provider: provider(store.dialect) }).migrateTo('004-provisioning');
    expect(error).toBeUndefined();
    const now = '2030-01-01T00:00:00.000Z';
    await store.db.insertInto('tenants').values({ id: 't1', name: 't', created_at: now, updated_at: now }).execute();
    await store.db.insertInto('organizations').values({ id: 'o1', tenant_id: 't1', name: 'o', created_at: now, updated_at: now }).execute();
    await store.db.insertInto('sites').values({ id: 's1', organization_id: 'o1', name: 's', created_at: now, updated_at: now }).execute();
    // Without the columns later migrations add (006-upstream-health): the rows as that release wrote them.
    const node = (id: string) => {
      const { upstream_health: _h, upstream_health_at: _a, ...row } = newNodeRow({ id, site_id: 's1', name: id, hostname: `${id}.test`, is_local: 0, agent_key_hash: `h-${id}` }, now);
      return row;
    };
    await (store.db as any)
      .insertInto('nodes')
      .values([
        { ...node('managed'), status: 'online', caddy_modules: '["http.handlers.reverse_proxy","layer4"]', http_port: 80, https_port: 443, layer4: 1 },
        { ...node('existing'), status: 'offline', caddy_modules: null, layer4: 0 },
        { ...node('never'), layer4: null },
      ])
      .execute();
    expect(await nodeColumns(store)).toContain('layer4');
  });

  it('drops nodes.layer4 and keeps every other fact of the nodes (006 then adds the empty upstream-health columns)', async () => {
    const before = await store.db.selectFrom('nodes').selectAll().orderBy('id').execute();
    const { applied } = await migrate(store, () => {});
    expect(applied).toEqual(['005-drop-node-layer4', '006-upstream-health']);
    const columns = await nodeColumns(store);
    expect(columns).not.toContain('layer4');
    expect(columns).toContain('caddy_modules');
    const after = await store.db.selectFrom('nodes').selectAll().orderBy('id').execute();
    expect(after).toEqual(before.map(({ layer4: _gone, ...rest }: any) => ({ ...rest, upstream_health: null, upstream_health_at: null })));
    expect(after.map((n) => [n.id, n.caddy_modules])).toEqual([
      ['existing', null],
      ['managed', '["http.handlers.reverse_proxy","layer4"]'],
      ['never', null],
    ]);
    if (kind === 'sqlite') expect(fs.readdirSync(`${dir.path}/sqlite`).some((f) => f.startsWith('caddyfleet.db.bak-'))).toBe(true);
  });

  it("takes the controller's node writes afterwards, and applies nothing a second time", async () => {
    const now = '2030-01-02T00:00:00.000Z';
    await store.db.insertInto('nodes').values(newNodeRow({ id: 'fresh', site_id: 's1', name: 'fresh', hostname: 'fresh.test', is_local: 0, agent_key_hash: 'h-fresh' }, now)).execute();
    const batch = new Map([['existing', { status: 'online', caddy_modules: '["layer4"]', http_port: 8080, https_port: 8443 }]]);
    for (const st of updateNodesSql(batch, now, store.dialect)) await store.db.executeQuery(st);
    expect(await store.db.selectFrom('nodes').select(['status', 'caddy_modules', 'http_port']).where('id', '=', 'existing').executeTakeFirst()).toEqual({
      status: 'online',
      caddy_modules: '["layer4"]',
      http_port: 8080,
    });
    expect((await migrate(store, () => {})).applied).toEqual([]);
  });
});
