import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, TestStore } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';

describe.each(STORES)('audit log retention (%s)', (kind) => {
  let pg: PostgresHandle | undefined;
  beforeAll(async () => {
    if (kind === 'postgres') pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('deletes entries past the retention period and the oldest beyond the row cap, at start and on demand', async () => {
    const store = await TestStore.create(kind, pg);
    const t = await store.start({ auditRetentionDays: '30', auditMaxRows: '1000' });
    try {
      const day = 86_400_000;
      const row = (i: number, at: Date) => ({ id: `aud_t${i}`, at: at.toISOString(), actor: 'test', action: 'update', entity_type: 'route', entity_id: `rt_${i}`, before_json: null, after_json: null });
      const old = Array.from({ length: 50 }, (_, i) => row(i, new Date(Date.now() - 40 * day)));
      const recent = Array.from({ length: 1100 }, (_, i) => row(1000 + i, new Date(Date.now() - day + i)));
      for (let i = 0; i < old.length + recent.length; i += 200) await t.db.insertInto('audit_log').values([...old, ...recent].slice(i, i + 200)).execute();
      const total = async () => (await t.db.selectFrom('audit_log').select('id').execute()).length;
      const before = await total();

      const pruned = await t.c.services.auditRetention.prune();
      expect(pruned.expired).toBe(50);
      expect(pruned.overCap).toBe(before - 50 - 1000);
      expect(await total()).toBe(1000);
      const kept = await t.db.selectFrom('audit_log').select('id').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(kept.id).toBe('aud_t2099');
      expect(await t.db.selectFrom('audit_log').select('id').where('id', '=', 'aud_t0').executeTakeFirst()).toBeUndefined();

      // A restart prunes too.
      await t.db.insertInto('audit_log').values(row(5000, new Date(Date.now() - 31 * day))).execute();
      await t.close();
      const again = await store.start({ auditRetentionDays: '30', auditMaxRows: '1000' });
      expect(await again.db.selectFrom('audit_log').select('id').where('id', '=', 'aud_t5000').executeTakeFirst()).toBeUndefined();
      await again.close();
    } finally {
      await t.close().catch(() => {});
      await store.dispose();
    }
  });

  it('refuses a retention that is not a number of days', async () => {
    const store = await TestStore.create('sqlite');
    await expect(store.start({ auditRetentionDays: 'forever' })).rejects.toThrow(/CADDYFLEET_AUDIT_RETENTION_DAYS/);
    await store.dispose();
  });
});
