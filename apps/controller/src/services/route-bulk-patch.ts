/**
 * Many route edits in one batch that each keep the route on its node with its domains and port (an upstream,
 * redirect target, enabled or TLS change: what a fleet-wide change is), written with a few set-based statements
 * instead of several statements per route: one statement moves the revisions of all nodes concerned, one
 * rewrites the routes, one inserts the audit entries (per chunk of rows). The result is the one the route-by-
 * route path gives: the same revisions (one per edit, in order), rows and audit entries.
 *
 * Only the happy path is taken here: when any edit would move a route, change what the domain index holds,
 * touch a route twice or fail, `bulkPatch` returns null and the caller runs the general path, which produces
 * exactly the errors it always did.
 */
import { sql } from 'kysely';
import { hostBitRangeProblems, routeCreateSchema, type Route, type RoutePatch } from '@caddyfleet/protocol';
import { fixedChunks } from '../db/chunks';
import type { Db } from '../db/connect';
import type { RouteTable } from '../db/schema';
import { auditMany } from './audit-service';
import type { Actor, RouteChange, ServiceContext } from './context';
import { checkModules, knownProblem, type NodeFacts } from './route-checks';
import { dbNodeId, routeToApi, routeToInput, specOf, type RouteSpec } from './route-mapping';

export interface BulkPatched {
  updated: Route[];
  bumped: [string, number][];
  changes: RouteChange[];
}

interface Edit {
  before: Route;
  row: RouteTable;
}

/** Whether two specs put the same entries in the domain and port index (domains, listen port, server names). */
export function sameIndex(a: RouteSpec, b: RouteSpec): boolean {
  return JSON.stringify([a.domains, a.listen, a.sni ?? []]) === JSON.stringify([b.domains, b.listen, b.sni ?? []]);
}

/** Below this many edits the general path is as fast. */
const MIN_EDITS = 8;

export async function bulkPatch(
  trx: Db,
  ctx: ServiceContext,
  actor: Actor,
  ops: readonly { id: string; patch: RoutePatch }[],
  merge: (before: Route, patch: RoutePatch) => Record<string, unknown>,
): Promise<BulkPatched | null> {
  if (ops.length < MIN_EDITS || new Set(ops.map((o) => o.id)).size !== ops.length) return null;
  const rows = new Map<string, RouteTable>();
  for (const chunk of fixedChunks(ops.map((o) => o.id).sort())) {
    let q = trx.selectFrom('routes').selectAll().where('id', 'in', chunk).orderBy('id');
    if (ctx.dialect === 'postgres') q = q.forUpdate();
    for (const r of await q.execute()) rows.set(r.id, r);
  }
  const facts = new Map<string, NodeFacts>();
  for (const chunk of fixedChunks([...new Set([...rows.values()].map((r) => r.node_id))])) {
    const found = await trx.selectFrom('nodes').select(['id', 'name', 'site_id', 'caddy_modules', 'http_port', 'https_port']).where('id', 'in', chunk).execute();
    for (const n of found) facts.set(n.id, n);
  }
  const now = ctx.now().toISOString();
  // Either an edit (in op order) or null for an edit that changes nothing (no revision, as on the general path).
  const edits: (Edit | null)[] = [];
  for (const { id, patch } of ops) {
    const beforeRow = rows.get(id);
    if (!beforeRow || beforeRow.scope === 'local_only' || patch.scope === 'local_only') return null;
    const before = routeToApi(beforeRow);
    let merged: Record<string, unknown>;
    try {
      merged = merge(before, patch);
    } catch {
      return null;
    }
    const parsed = routeCreateSchema.safeParse({ ...routeToInput(before), ...merged });
    if (!parsed.success) return null;
    const input = parsed.data;
    // The general path refuses it, with the error.
    if (input.kind === 'proxy' && hostBitRangeProblems(input.options, before.options).length) return null;
    const spec = specOf(input);
    const node = facts.get(beforeRow.node_id);
    // Enabling a disabled route goes the general way: one moved disabled because of a clash is not indexed.
    if (beforeRow.enabled === 0 && input.enabled) return null;
    if (!node || dbNodeId(input.nodeId) !== beforeRow.node_id || !sameIndex(spec, JSON.parse(beforeRow.spec) as RouteSpec)) return null;
    const specJson = JSON.stringify(spec);
    const enabled = input.enabled ? 1 : 0;
    if (specJson === beforeRow.spec && enabled === beforeRow.enabled && input.tls === beforeRow.tls) {
      edits.push(null);
      continue;
    }
    try {
      checkModules(node, input);
    } catch {
      return null;
    }
    // As on the general path: a route enabled again is reported afresh.
    const lastError = beforeRow.enabled === 0 && input.enabled ? knownProblem(input, node) : beforeRow.last_error;
    edits.push({ before, row: { ...beforeRow, enabled, tls: input.tls, spec: specJson, revision: 0, last_error: lastError, updated_at: now } });
  }
  const real = edits.filter((e): e is Edit => e !== null);

  // Revisions: each node moves by its number of edits; the edits get the revisions in op order.
  const perNode = new Map<string, number>();
  for (const e of real) perNode.set(e.row.node_id, (perNode.get(e.row.node_id) ?? 0) + 1);
  const reached = new Map<string, number>();
  for (const chunk of fixedChunks([...perNode].sort((a, b) => (a[0] < b[0] ? -1 : 1)))) {
    const values = chunk.map(([id, n]) => sql`(CAST(${id} AS TEXT), CAST(${n} AS INTEGER))`);
    const { rows: moved } = await sql<{ id: string; desired_revision: number }>`UPDATE nodes SET desired_revision = nodes.desired_revision + v.column2 FROM (VALUES ${sql.join(values)}) AS v WHERE nodes.id = v.column1 RETURNING nodes.id AS id, nodes.desired_revision AS desired_revision`.execute(trx);
    for (const m of moved) reached.set(m.id, Number(m.desired_revision));
  }
  // Routes reference their node, so every node is there; anything else is a broken database (rolled back).
  if (reached.size !== perNode.size) throw new Error('a node of an edited route is missing');
  const next = new Map([...perNode].map(([id, n]) => [id, reached.get(id)! - n]));
  for (const e of real) {
    const revision = next.get(e.row.node_id)! + 1;
    next.set(e.row.node_id, revision);
    e.row.revision = revision;
  }

  for (const chunk of fixedChunks(real)) {
    const values = chunk.map(
      ({ row }) =>
        sql`(CAST(${row.id} AS TEXT), CAST(${row.enabled} AS INTEGER), CAST(${row.tls} AS TEXT), CAST(${row.spec} AS TEXT), CAST(${row.revision} AS BIGINT), CAST(${row.updated_at} AS TEXT), CAST(${row.last_error} AS TEXT))`,
    );
    await sql`UPDATE routes SET enabled = v.column2, tls = v.column3, spec = v.column4, revision = v.column5, updated_at = v.column6, last_error = v.column7 FROM (VALUES ${sql.join(values)}) AS v WHERE routes.id = v.column1`.execute(trx);
  }

  const out: BulkPatched = { updated: [], bumped: [], changes: [] };
  const audited: { entityId: string; before: unknown; after: unknown }[] = [];
  for (const [i, e] of edits.entries()) {
    if (!e) {
      out.updated.push(routeToApi(rows.get(ops[i]!.id)!));
      continue;
    }
    const after = routeToApi(e.row);
    out.updated.push(after);
    out.bumped.push([e.row.node_id, e.row.revision]);
    out.changes.push({ nodeId: e.row.node_id, revision: e.row.revision, upsert: after });
    audited.push({ entityId: e.row.id, before: e.before, after });
  }
  await auditMany(trx, ctx, actor, 'update', 'route', audited);
  return out;
}
