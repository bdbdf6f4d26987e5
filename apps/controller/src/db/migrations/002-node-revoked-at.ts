import type { Kysely } from 'kysely';

/** When a node's agent key was revoked: the dashboard shows it instead of guessing from lastError. */
export const nodeRevokedAt = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('nodes').addColumn('revoked_at', 'varchar(40)').execute();
  },
};
