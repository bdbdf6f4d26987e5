import type { Kysely } from 'kysely';

/**
 * Drops `nodes.layer4` (003-node-layer4): the module list (`caddy_modules`) is the one record of what a node's
 * Caddy has. The flag added nothing for a node whose modules are known, and for an existing Caddy (modules
 * unknown) a single flag cannot say what else is missing. No index or constraint uses the column, so SQLite
 * (3.35+) drops it in place.
 */
export const dropNodeLayer4 = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').dropColumn('layer4').execute();
  },
};
