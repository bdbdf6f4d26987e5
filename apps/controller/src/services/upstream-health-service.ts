import { routeUpstreamHealth, type NodeUpstreamHealth, type Route, type UpstreamReport } from '@caddyfleet/protocol';
import { fixedChunks } from '../db/chunks';
import type { ServiceContext } from './context';
import { parseJsonArray } from './node-service';
import { dbNodeId } from './route-mapping';

/** Parsed reports kept between requests, per node and report time (a report is replaced, never changed). */
const CACHE_LIMIT = 5000;

/**
 * Adds `upstreamHealth` to proxy routes for the API: each upstream's health from the last report of the route's
 * node, unknown (null) while that node is not connected.
 */
export class UpstreamHealthService {
  private readonly cache = new Map<string, { at: string; byAddress: Map<string, UpstreamReport> }>();

  constructor(private readonly ctx: ServiceContext) {}

  async attach<R extends Route>(routes: R[]): Promise<R[]> {
    const nodeIds = [...new Set(routes.filter((r) => r.kind === 'proxy').map((r) => dbNodeId(r.nodeId)))];
    if (nodeIds.length === 0) return routes;
    const nodes = new Map<string, NodeUpstreamHealth>();
    // Whole chunks of fixed sizes down to 1: every id is in one, and the statements stay prepared.
    for (const chunk of fixedChunks(nodeIds)) {
      const rows = await this.ctx.db
        .selectFrom('nodes')
        .select(['id', 'status', 'upstream_health', 'upstream_health_at'])
        .where('id', 'in', chunk)
        .execute();
      for (const row of rows) {
        nodes.set(row.id, {
          // `error`: connected, but its last apply failed; Caddy still runs and checks what it ran before.
          connected: row.status === 'online' || row.status === 'error',
          reportedAt: row.upstream_health_at,
          byAddress: this.parsed(row.id, row.upstream_health, row.upstream_health_at),
        });
      }
    }
    for (const r of routes) {
      const health = routeUpstreamHealth(r, nodes.get(dbNodeId(r.nodeId)));
      if (health) r.upstreamHealth = health;
    }
    return routes;
  }

  async attachOne<R extends Route>(route: R): Promise<R> {
    return (await this.attach([route]))[0]!;
  }

  private parsed(nodeId: string, text: string | null, at: string | null): Map<string, UpstreamReport> {
    if (text === null || at === null) return new Map();
    const hit = this.cache.get(nodeId);
    if (hit?.at === at) return hit.byAddress;
    const byAddress = new Map((parseJsonArray<UpstreamReport>(text) ?? []).map((u) => [u.address, u]));
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(nodeId, { at, byAddress });
    return byAddress;
  }
}
