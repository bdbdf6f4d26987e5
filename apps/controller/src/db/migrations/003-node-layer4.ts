import type { Kysely } from 'kysely';

/** Whether a node's Caddy has the layer4 module (from its agent's hello; null until it said), so that a stream route it cannot serve is flagged when it is created. */
export const nodeLayer4 = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').addColumn('layer4', 'integer').execute();
  },
};
