import type { Db } from '../db/connect';
import { fixedChunks } from '../db/chunks';
import { newId } from '../crypto';
import type { Actor, ServiceContext } from './context';

export type AuditAction = 'create' | 'update' | 'delete' | 'revoke' | 'enroll' | 'login' | 'provision' | 'local-routes';

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

/** Route ids listed per kind of change in a local-routes entry; the counts stay exact beyond that. */
const MAX_LISTED = 50;
/** Frames of one agent within this long share one entry, so a flapping agent writes one row a minute. */
export const LOCAL_ROUTES_AUDIT_WINDOW_MS = 60_000;

export interface LocalRoutesChange {
  created: string[];
  updated: string[];
  deleted: string[];
  /** Local routes the agent has after the frame. */
  total: number;
}

interface LocalRoutesSummary {
  counts: { created: number; updated: number; deleted: number };
  created: string[];
  updated: string[];
  deleted: string[];
  total: number;
  frames: number;
  from: string;
  until: string;
}

const listed = (a: string[], b: string[]) => [...new Set([...a, ...b])].slice(0, MAX_LISTED);

/**
 * Audits an agent's local-routes frame as one summarised entry on its node: how many routes it created, changed
 * and removed, with their ids (the first 50 of each). When `previous` names this agent's entry from less than a
 * minute ago, that entry is extended instead of adding another. Returns the id of the entry written.
 */
export async function auditLocalRoutes(
  trx: Db,
  ctx: ServiceContext,
  actor: Actor,
  nodeId: string,
  change: LocalRoutesChange,
  previous: { id: string; at: number } | null,
): Promise<string> {
  const now = ctx.now();
  if (previous && now.getTime() - previous.at < LOCAL_ROUTES_AUDIT_WINDOW_MS) {
    const row = await trx.selectFrom('audit_log').select(['after_json', 'actor']).where('id', '=', previous.id).executeTakeFirst();
    if (row?.after_json && row.actor === actor.label) {
      const before = JSON.parse(row.after_json) as LocalRoutesSummary;
      const merged: LocalRoutesSummary = {
        counts: {
          created: before.counts.created + change.created.length,
          updated: before.counts.updated + change.updated.length,
          deleted: before.counts.deleted + change.deleted.length,
        },
        created: listed(before.created, change.created),
        updated: listed(before.updated, change.updated),
        deleted: listed(before.deleted, change.deleted),
        total: change.total,
        frames: before.frames + 1,
        from: before.from,
        until: now.toISOString(),
      };
      await trx.updateTable('audit_log').set({ after_json: JSON.stringify(merged) }).where('id', '=', previous.id).execute();
      return previous.id;
    }
  }
  const summary: LocalRoutesSummary = {
    counts: { created: change.created.length, updated: change.updated.length, deleted: change.deleted.length },
    created: change.created.slice(0, MAX_LISTED),
    updated: change.updated.slice(0, MAX_LISTED),
    deleted: change.deleted.slice(0, MAX_LISTED),
    total: change.total,
    frames: 1,
    from: now.toISOString(),
    until: now.toISOString(),
  };
  const id = newId('aud');
  await trx
    .insertInto('audit_log')
    .values({ id, at: now.toISOString(), actor: actor.label, action: 'local-routes', entity_type: 'node', entity_id: nodeId, before_json: null, after_json: JSON.stringify(summary) })
    .execute();
  return id;
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
