import type { Kysely } from 'kysely';

/**
 * What a node's agent reports about its Caddy (modules, listener ports, certificates), so routes it cannot serve
 * are refused up front; and a TLS server name per stream port entry, so streams routed by SNI can share a port
 * while the unique index still refuses the same name (or two catch-all streams) on one port.
 */
export const nodeCapabilities = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').addColumn('caddy_modules', 'text').execute();
    await db.schema.alterTable('nodes').addColumn('http_port', 'integer').execute();
    await db.schema.alterTable('nodes').addColumn('https_port', 'integer').execute();
    await db.schema.alterTable('nodes').addColumn('certificates', 'text').execute();
    await db.schema.alterTable('nodes').addColumn('certificates_at', 'varchar(40)').execute();
    await db.schema.alterTable('route_listens').addColumn('sni', 'varchar(260)', (c) => c.notNull().defaultTo('')).execute();
    await db.schema.dropIndex('route_listens_unique').execute();
    await db.schema.createIndex('route_listens_unique').on('route_listens').columns(['node_id', 'port', 'protocol', 'sni']).unique().execute();
  },
};
