import type { Kysely } from 'kysely';

/**
 * The health of each upstream of a node's proxy routes as its agent last reported it (JSON of protocol
 * `upstreamReportSchema` items) and when; kept across controller restarts, shown as unknown while the node is offline.
 */
export const upstreamHealth = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').addColumn('upstream_health', 'text').execute();
    await db.schema.alterTable('nodes').addColumn('upstream_health_at', 'varchar(40)').execute();
  },
};
