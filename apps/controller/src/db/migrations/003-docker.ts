import type { Kysely } from 'kysely';

/**
 * Docker discovery: the sites each agent found in its containers' labels (one row per site, per discovering
 * node), and on routes the containers behind a Docker route.
 */
export const dockerDiscovery = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('docker_entries')
      .addColumn('source_node_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('entry_key', 'varchar(100)', (c) => c.notNull())
      // The node that serves it: the source itself, the node its caddyfleet.node label names, or null (no such node).
      .addColumn('target_node_id', 'varchar(64)')
      .addColumn('local', 'integer', (c) => c.notNull())
      .addColumn('entry', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
      .addPrimaryKeyConstraint('docker_entries_pk', ['source_node_id', 'entry_key'])
      .execute();
    await db.schema.createIndex('docker_entries_target').on('docker_entries').column('target_node_id').execute();
    await db.schema.alterTable('routes').addColumn('source', 'text').execute();
  },
};
