/**
 * What storing an agent's local routes has to change, worked out in memory from what is stored: the rows to
 * write, the rows to remove, and which routes may index their domains and ports. Pure, so that a frame of a
 * few thousand unchanged routes costs a comparison and no statement at all.
 */
import type { RouteTable } from '../db/schema';
import type { LocalRoute } from './local-route-service';
import { specOf } from './route-mapping';

/** Something that already holds a domain or port on the node. */
export interface Holder {
  routeId: string;
  enabled: boolean;
}

export interface IndexEntries {
  domains: string[];
  listen: { port: number; protocol: string } | null;
}

export interface StoredLocal {
  row: RouteTable;
  /** The entries this route holds in route_domains / route_listens (none when it lost to another holder). */
  index: IndexEntries;
}

export interface PlanInput {
  nodeId: string;
  siteId: string;
  now: string;
  routes: LocalRoute[];
  stored: StoredLocal[];
  /** Domains and ports held by the node's central routes. */
  centralDomains: Map<string, Holder>;
  centralListens: Map<string, Holder>;
}

export interface LocalRoutePlan {
  /** Rows to (re)write with their index entries: new routes and changed ones. */
  write: { row: RouteTable; index: IndexEntries }[];
  /** Stored rows to remove before writing: changed ones (rewritten) and ones the agent no longer has. */
  remove: string[];
  conflicts: number;
  /** Route ids by what happened to their content (problems that appear or clear alone are not changes). */
  created: string[];
  updated: string[];
  deleted: string[];
}

export const listenKey = (l: { port: number; protocol: string }) => `${l.protocol}/${l.port}`;

/** Stored id of an agent's local route: unique across the fleet, recognisable as belonging to its node. */
export function storedLocalId(nodeId: string, localId: string): string {
  return `${nodeId}-${localId}`;
}

const sameIndex = (a: IndexEntries, b: IndexEntries) =>
  a.domains.length === b.domains.length &&
  [...a.domains].sort().join('\n') === [...b.domains].sort().join('\n') &&
  (a.listen ? listenKey(a.listen) : '') === (b.listen ? listenKey(b.listen) : '');

/**
 * Local routes are taken in the order the agent sent them. A route whose domain or port is already held (by a
 * central route, or by an earlier local route of the same frame) is kept but not indexed; it carries a conflict
 * in lastError when the holder is enabled — the agent applies the same rule, so both sides agree.
 */
export function planLocalRoutes(input: PlanInput): LocalRoutePlan {
  const storedById = new Map(input.stored.map((s) => [s.row.id, s]));
  const domains = new Map(input.centralDomains);
  const listens = new Map(input.centralListens);
  const plan: LocalRoutePlan = { write: [], remove: [], conflicts: 0, created: [], updated: [], deleted: [] };
  const kept = new Set<string>();
  for (const route of input.routes) {
    const id = storedLocalId(input.nodeId, route.id);
    if (kept.has(id)) continue;
    kept.add(id);
    const spec = specOf(route);
    const holders: { holder: Holder; what: string }[] = [];
    for (const d of spec.domains) {
      const h = domains.get(d);
      if (h) holders.push({ holder: h, what: `domain ${d}` });
    }
    if (spec.listen) {
      const h = listens.get(listenKey(spec.listen));
      if (h) holders.push({ holder: h, what: `${spec.listen.protocol} port ${spec.listen.port}` });
    }
    const blocking = route.enabled ? holders.find((h) => h.holder.enabled) : undefined;
    const lastError = blocking ? `${blocking.what} conflicts with route ${blocking.holder.routeId}` : null;
    if (lastError) plan.conflicts += 1;
    const index: IndexEntries = holders.length ? { domains: [], listen: null } : { domains: spec.domains, listen: spec.listen };
    for (const d of index.domains) domains.set(d, { routeId: id, enabled: route.enabled });
    if (index.listen) listens.set(listenKey(index.listen), { routeId: id, enabled: route.enabled });

    const previous = storedById.get(id);
    const specJson = JSON.stringify(spec);
    const enabled = route.enabled ? 1 : 0;
    const contentSame = previous !== undefined && previous.row.kind === route.kind && previous.row.spec === specJson && previous.row.enabled === enabled && previous.row.tls === route.tls;
    const row: RouteTable = {
      id,
      kind: route.kind,
      node_id: input.nodeId,
      site_id: input.siteId,
      scope: 'local_only',
      origin: 'local',
      enabled,
      tls: route.tls,
      spec: specJson,
      revision: 0,
      last_error: lastError,
      created_at: previous?.row.created_at ?? input.now,
      updated_at: contentSame ? previous.row.updated_at : input.now,
    };
    if (contentSame && previous.row.last_error === lastError && previous.row.site_id === input.siteId && sameIndex(previous.index, index)) continue;
    if (previous) plan.remove.push(id);
    plan.write.push({ row, index });
    if (!previous) plan.created.push(id);
    else if (!contentSame) plan.updated.push(id);
  }
  for (const s of input.stored) {
    if (kept.has(s.row.id)) continue;
    plan.remove.push(s.row.id);
    plan.deleted.push(s.row.id);
  }
  return plan;
}
