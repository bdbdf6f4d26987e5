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
        const clash = await this.findClash(trx, nodeId, spec.domains, spec.listen);
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
        if (!clash) {
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

  private async findClash(
    trx: ServiceContext['db'],
    nodeId: string,
    domains: string[],
    listen: { port: number; protocol: string } | null,
  ): Promise<string | null> {
    if (domains.length) {
      const hit = await trx.selectFrom('route_domains').select(['domain', 'route_id']).where('node_id', '=', nodeId).where('domain', 'in', domains).executeTakeFirst();
      if (hit) return `domain ${hit.domain} conflicts with route ${hit.route_id}`;
    }
    if (listen) {
      const hit = await trx
        .selectFrom('route_listens')
        .select('route_id')
        .where('node_id', '=', nodeId)
        .where('port', '=', listen.port)
        .where('protocol', '=', listen.protocol)
        .executeTakeFirst();
      if (hit) return `${listen.protocol} port ${listen.port} conflicts with route ${hit.route_id}`;
    }
    return null;
  }
}
