import type { Kysely } from 'kysely';

/**
 * SSH provisioning: one row per run (steps and capped log, so the last run stays viewable after a restart), and
 * the host key a node presented on first contact (trust on first use), never any credential.
 */
export const provisioning = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').addColumn('ssh_host_key_sha256', 'varchar(80)').execute();
    await db.schema
      .createTable('provisioning_jobs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('kind', 'varchar(20)', (c) => c.notNull())
      .addColumn('status', 'varchar(20)', (c) => c.notNull())
      .addColumn('steps', 'text', (c) => c.notNull())
      .addColumn('log', 'text', (c) => c.notNull())
      .addColumn('target', 'varchar(400)', (c) => c.notNull())
      .addColumn('host_key_sha256', 'varchar(80)')
      .addColumn('error', 'text')
      .addColumn('started_at', 'varchar(40)', (c) => c.notNull())
      .addColumn('ended_at', 'varchar(40)')
      .addColumn('created_by', 'varchar(100)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('provisioning_jobs_node').on('provisioning_jobs').columns(['node_id', 'started_at']).execute();
  },
};
