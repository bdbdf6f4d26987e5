import type { z } from 'zod';
import type { localRouteSchema } from '@caddyfleet/protocol';
import type { RouteTable } from '../db/schema';
import { audit } from './audit-service';
import type { ServiceContext } from './context';
import { routeToApi, specOf } from './route-mapping';

export type LocalRoute = z.infer<typeof localRouteSchema>;

/** Stored id of an agent's local route: unique across the fleet, recognisable as belonging to its node. */
export function storedLocalId(nodeId: string, localId: string): string {
  return `${nodeId}-${localId}`;
}

/**
 * Mirrors the local_only routes an agent publishes. They are read-only here; a local route whose domain or port
 * is already taken by a central route is kept (so it is visible) but not indexed, and carries the conflict in
 * its lastError — the central route keeps the domain, on the agent as here.
 */
export class LocalRouteService {
  constructor(private readonly ctx: ServiceContext) {}

  async replace(nodeId: string, agentLabel: string, routes: LocalRoute[]): Promise<{ conflicts: number }> {
    let conflicts = 0;
    await this.ctx.db.transaction().execute(async (trx) => {
      const node = await trx.selectFrom('nodes').select(['site_id']).where('id', '=', nodeId).executeTakeFirst();
      if (!node) return;
      const existing = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).where('scope', '=', 'local_only').execute();
      const existingById = new Map(existing.map((r) => [r.id, r]));
      await trx.deleteFrom('routes').where('node_id', '=', nodeId).where('scope', '=', 'local_only').execute();
      const now = this.ctx.now().toISOString();
      const kept = new Set<string>();
      for (const input of routes) {
        const id = storedLocalId(nodeId, input.id);
        if (kept.has(id)) continue;
        kept.add(id);
        const spec = specOf(input);
        const { conflict: clash, taken } = await this.findClash(trx, nodeId, spec.domains, spec.listen, input.enabled);
        if (clash) conflicts += 1;
        const previous = existingById.get(id);
        const row: RouteTable = {
          id,
          kind: input.kind,
          node_id: nodeId,
          site_id: node.site_id,
          scope: 'local_only',
          origin: 'local',
          enabled: input.enabled ? 1 : 0,
          tls: input.tls,
          spec: JSON.stringify(spec),
          revision: 0,
          last_error: clash,
          created_at: previous?.created_at ?? now,
          updated_at: previous && previous.spec === JSON.stringify(spec) && previous.enabled === (input.enabled ? 1 : 0) && previous.tls === input.tls ? previous.updated_at : now,
        };
        await trx.insertInto('routes').values(row).execute();
        if (!taken) {
          if (spec.domains.length) await trx.insertInto('route_domains').values(spec.domains.map((domain) => ({ route_id: id, node_id: nodeId, domain }))).execute();
          if (spec.listen) await trx.insertInto('route_listens').values({ route_id: id, node_id: nodeId, ...spec.listen }).execute();
        }
        if (!previous || previous.updated_at !== row.updated_at) {
          await audit(trx, this.ctx, { kind: 'agent', id: nodeId, label: agentLabel, role: 'viewer' }, previous ? 'update' : 'create', 'route', id, previous ? routeToApi(previous) : null, routeToApi(row));
        }
      }
      for (const gone of existing.filter((r) => !kept.has(r.id))) {
        await audit(trx, this.ctx, { kind: 'agent', id: nodeId, label: agentLabel, role: 'viewer' }, 'delete', 'route', gone.id, routeToApi(gone), null);
      }
    });
    this.ctx.events.emit('routes', nodeId);
    return { conflicts };
  }

  /**
   * What already holds this route's domains or port on the node. Only an enabled route makes it a conflict (the
   * agent applies the same rule: a disabled route serves nothing, so it blocks nothing); any holder at all means
   * the unique index cannot take this route's entries too.
   */
  private async findClash(
    trx: ServiceContext['db'],
    nodeId: string,
    domains: string[],
    listen: { port: number; protocol: string } | null,
    enabled: boolean,
  ): Promise<{ conflict: string | null; taken: boolean }> {
    const holders: { route: string; what: string; enabled: number }[] = [];
    if (domains.length) {
      const rows = await trx
        .selectFrom('route_domains')
        .innerJoin('routes', 'routes.id', 'route_domains.route_id')
        .select(['route_domains.domain', 'route_domains.route_id', 'routes.enabled'])
        .where('route_domains.node_id', '=', nodeId)
        .where('route_domains.domain', 'in', domains)
        .execute();
      for (const r of rows) holders.push({ route: r.route_id, what: `domain ${r.domain}`, enabled: r.enabled });
    }
    if (listen) {
      const rows = await trx
        .selectFrom('route_listens')
        .innerJoin('routes', 'routes.id', 'route_listens.route_id')
        .select(['route_listens.route_id', 'routes.enabled'])
        .where('route_listens.node_id', '=', nodeId)
        .where('route_listens.port', '=', listen.port)
        .where('route_listens.protocol', '=', listen.protocol)
        .execute();
      for (const r of rows) holders.push({ route: r.route_id, what: `${listen.protocol} port ${listen.port}`, enabled: r.enabled });
    }
    const blocking = enabled ? holders.find((h) => h.enabled === 1) : undefined;
    return { conflict: blocking ? `${blocking.what} conflicts with route ${blocking.route}` : null, taken: holders.length > 0 };
  }
}
