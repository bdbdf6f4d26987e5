import { chmod } from 'node:fs/promises';
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { OpenDatabase } from './connect';
import { initial } from './migrations/001-initial';
import { nodeRevokedAt } from './migrations/002-node-revoked-at';
import { provisioning } from './migrations/004-provisioning';
import { dockerDiscovery } from './migrations/003-docker';
import { nodeCapabilities } from './migrations/003-node-capabilities';
import { nodeLayer4 } from './migrations/003-node-layer4';
import { dropNodeLayer4 } from './migrations/005-drop-node-layer4';
import { upstreamHealth } from './migrations/006-upstream-health';

/** Every migration by name; Kysely applies them in name order. */
export function provider(dialect: OpenDatabase['dialect']): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '001-initial': initial(dialect),
    '002-node-revoked-at': nodeRevokedAt,
    '004-provisioning': provisioning,
    '003-docker': dockerDiscovery,
    '003-node-capabilities': nodeCapabilities,
    '003-node-layer4': nodeLayer4,
    '005-drop-node-layer4': dropNodeLayer4,
    '006-upstream-health': upstreamHealth,
  };
  return { getMigrations: async () => migrations };
}

/**
 * Applies pending migrations. An existing SQLite file is copied aside first, so a failed or unwanted upgrade
 * can be undone by putting the copy back.
 */
export async function migrate(store: OpenDatabase, log: (msg: string) => void): Promise<{ applied: string[]; backup: string | null }> {
  const migrator = new Migrator({ db: store.db, provider: provider(store.dialect) });
  const pending = (await migrator.getMigrations()).filter((m) => !m.executedAt);
  if (pending.length === 0) return { applied: [], backup: null };
  let backup: string | null = null;
  if (store.sqlitePath && (await hasTables(store))) {
    backup = `${store.sqlitePath}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await sql`VACUUM INTO ${sql.lit(backup)}`.execute(store.db);
    // A copy of the whole database: as private as the database itself.
    await chmod(backup, 0o600);
    log(`backed up ${store.sqlitePath} to ${backup} before migrating`);
  }
  const { error, results } = await migrator.migrateToLatest();
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) throw new Error(`database migration failed: ${error instanceof Error ? error.message : String(error)}`);
  if (applied.length) log(`applied migrations: ${applied.join(', ')}`);
  return { applied, backup };
}

async function hasTables(store: OpenDatabase): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table'`.execute(store.db);
  return Number(rows[0]?.n ?? 0) > 0;
}
