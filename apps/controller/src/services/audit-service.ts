import type { Db } from '../db/connect';
import { fixedChunks } from '../db/chunks';
import { newId } from '../crypto';
import type { Actor, ServiceContext } from './context';

export type AuditAction = 'create' | 'update' | 'delete' | 'revoke' | 'enroll' | 'login';

/** Writes one audit entry inside the caller's transaction, so the log never disagrees with the data. */
export async function audit(
  trx: Db,
  ctx: ServiceContext,
  actor: Actor,
  action: AuditAction,
  entityType: string,
  entityId: string,
  before: unknown,
  after: unknown,
): Promise<void> {
  await trx
    .insertInto('audit_log')
    .values({
      id: newId('aud'),
      at: ctx.now().toISOString(),
      actor: actor.label,
      action,
      entity_type: entityType,
      entity_id: entityId,
      before_json: before == null ? null : JSON.stringify(before),
      after_json: after == null ? null : JSON.stringify(after),
    })
    .execute();
}

export interface AuditQuery {
  entityType?: string | undefined;
  entityId?: string | undefined;
  actor?: string | undefined;
  limit: number;
}

export async function listAudit(ctx: ServiceContext, q: AuditQuery) {
  let query = ctx.db.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(q.limit);
  if (q.entityType) query = query.where('entity_type', '=', q.entityType);
  if (q.entityId) query = query.where('entity_id', '=', q.entityId);
  if (q.actor) query = query.where('actor', '=', q.actor);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    entityType: r.entity_type,
    entityId: r.entity_id,
    before: r.before_json ? (JSON.parse(r.before_json) as unknown) : null,
    after: r.after_json ? (JSON.parse(r.after_json) as unknown) : null,
  }));
}

/** Many entries of one action as multi-row inserts (same rows as one audit() call each), inside the caller's transaction. */
export async function auditMany(
  trx: Db,
  ctx: ServiceContext,
  actor: Actor,
  action: AuditAction,
  entityType: string,
  entries: readonly { entityId: string; before: unknown; after: unknown }[],
): Promise<void> {
  const at = ctx.now().toISOString();
  for (const chunk of fixedChunks(entries)) {
    await trx
      .insertInto('audit_log')
      .values(
        chunk.map((e) => ({
          id: newId('aud'),
          at,
          actor: actor.label,
          action,
          entity_type: entityType,
          entity_id: e.entityId,
          before_json: e.before == null ? null : JSON.stringify(e.before),
          after_json: e.after == null ? null : JSON.stringify(e.after),
        })),
      )
      .execute();
  }
}
