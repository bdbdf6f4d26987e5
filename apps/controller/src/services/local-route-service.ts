import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { z } from 'zod';
import type { localRouteSchema } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import { auditLocalRoutes } from './audit-service';
import type { ServiceContext } from './context';
import { listenKey, planLocalRoutes, type Holder, type IndexEntries, type StoredLocal } from './local-route-plan';

export { storedLocalId } from './local-route-plan';

export type LocalRoute = z.infer<typeof localRouteSchema>;

/** Rows per statement; small enough for SQLite's variable limit and for one turn of the event loop. */
const CHUNK = 200;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Mirrors the local_only routes an agent publishes. They are read-only here; a local route whose domain or port
 * is already taken by a central route is kept (so it is visible) but not indexed, and carries the conflict in
 * its lastError — the central route keeps the domain, on the agent as here.
 *
 * An agent re-sends all of its local routes at every change, so storing them is a comparison with what is
 * stored: only routes that changed are written, in multi-row statements, yielding to the event loop between
 * them so that other requests are answered while a large list is stored. The frame is audited as one entry.
 */
export class LocalRouteService {
  /** Each node's latest local-routes audit entry, which frames within the audit window extend (one per node). */
  private readonly lastAudit = new Map<string, { id: string; at: number }>();

  constructor(private readonly ctx: ServiceContext) {}


  async replace(nodeId: string, agentLabel: string, routes: LocalRoute[]): Promise<{ conflicts: number; changed: number }> {
    const result = await this.ctx.db.transaction().execute(async (trx) => {
      const node = await trx.selectFrom('nodes').select(['site_id']).where('id', '=', nodeId).executeTakeFirst();
      if (!node) return { conflicts: 0, changed: 0, audited: null };
      const plan = planLocalRoutes({
        nodeId,
        siteId: node.site_id,
        now: this.ctx.now().toISOString(),
        routes,
        stored: await this.stored(trx, nodeId),
        ...(await this.centralHolders(trx, nodeId)),
      });
      for (const ids of chunks(plan.remove)) {
        await yieldToEventLoop();
        // route_domains and route_listens rows go with their route (on delete cascade).
        await trx.deleteFrom('routes').where('id', 'in', ids).execute();
      }
      for (const part of chunks(plan.write)) {
        await yieldToEventLoop();
        await trx.insertInto('routes').values(part.map((w) => w.row)).execute();
        const domains = part.flatMap((w) => w.index.domains.map((domain) => ({ route_id: w.row.id, node_id: nodeId, domain })));
        for (const d of chunks(domains, 500)) await trx.insertInto('route_domains').values(d).execute();
        const listens = part.flatMap((w) => (w.index.listen ? [{ route_id: w.row.id, node_id: nodeId, ...w.index.listen }] : []));
        if (listens.length) await trx.insertInto('route_listens').values(listens).execute();
      }
      let audited: { id: string; at: number } | null = null;
      if (plan.created.length + plan.updated.length + plan.deleted.length) {
        const actor = { kind: 'agent' as const, id: nodeId, label: agentLabel, role: 'viewer' as const };
        const change = { created: plan.created, updated: plan.updated, deleted: plan.deleted, total: routes.length };
        const previous = this.lastAudit.get(nodeId) ?? null;
        const id = await auditLocalRoutes(trx, this.ctx, actor, nodeId, change, previous);
        audited = id === previous?.id ? previous : { id, at: this.ctx.now().getTime() };
      }
      return { conflicts: plan.conflicts, changed: plan.write.length + plan.remove.length, audited };
    });
    if (result.audited) this.lastAudit.set(nodeId, result.audited);
    if (result.changed) this.ctx.events.emit('routes', nodeId);
    return { conflicts: result.conflicts, changed: result.changed };
  }

  /** The node's stored local routes with the index entries each of them holds. */
  private async stored(trx: Db, nodeId: string): Promise<StoredLocal[]> {
    const rows = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).where('scope', '=', 'local_only').execute();
    const index = new Map<string, IndexEntries>(rows.map((r) => [r.id, { domains: [], listen: null }]));
    const domains = await trx
      .selectFrom('route_domains')
      .innerJoin('routes', 'routes.id', 'route_domains.route_id')
      .select(['route_domains.route_id', 'route_domains.domain'])
      .where('route_domains.node_id', '=', nodeId)
      .where('routes.scope', '=', 'local_only')
      .execute();
    for (const d of domains) index.get(d.route_id)?.domains.push(d.domain);
    const listens = await trx
      .selectFrom('route_listens')
      .innerJoin('routes', 'routes.id', 'route_listens.route_id')
      .select(['route_listens.route_id', 'route_listens.port', 'route_listens.protocol'])
      .where('route_listens.node_id', '=', nodeId)
      .where('routes.scope', '=', 'local_only')
      .execute();
    for (const l of listens) {
      const entry = index.get(l.route_id);
      if (entry) entry.listen = { port: l.port, protocol: l.protocol };
    }
    return rows.map((row) => ({ row, index: index.get(row.id)! }));
  }

  /** Domains and ports the node's central routes hold, with whether each holder is enabled. */
  private async centralHolders(trx: Db, nodeId: string): Promise<{ centralDomains: Map<string, Holder>; centralListens: Map<string, Holder> }> {
    const domains = await trx
      .selectFrom('route_domains')
      .innerJoin('routes', 'routes.id', 'route_domains.route_id')
      .select(['route_domains.domain', 'route_domains.route_id', 'routes.enabled'])
      .where('route_domains.node_id', '=', nodeId)
      .where('routes.scope', '!=', 'local_only')
      .execute();
    const listens = await trx
      .selectFrom('route_listens')
      .innerJoin('routes', 'routes.id', 'route_listens.route_id')
      .select(['route_listens.route_id', 'route_listens.port', 'route_listens.protocol', 'routes.enabled'])
      .where('route_listens.node_id', '=', nodeId)
      .where('routes.scope', '!=', 'local_only')
      .execute();
    return {
      centralDomains: new Map(domains.map((d) => [d.domain, { routeId: d.route_id, enabled: d.enabled === 1 }])),
      centralListens: new Map(listens.map((l) => [listenKey(l), { routeId: l.route_id, enabled: l.enabled === 1 }])),
    };
  }
}
