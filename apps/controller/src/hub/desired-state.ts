import type { Route, SourcedDockerEntry } from '@caddyfleet/protocol';
import type { ServiceContext } from '../services/context';
import { remoteDockerEntries } from '../services/docker-route-service';
import { routeToApi } from '../services/route-mapping';

/**
 * Reads a node's revision and its centrally owned routes in one transaction, so the revision sent always
 * describes exactly the routes sent with it.
 */
export async function desiredState(
  ctx: ServiceContext,
  nodeId: string,
): Promise<{ revision: number; routes: Route[]; dockerRoutes?: SourcedDockerEntry[] } | null> {
  let tx = ctx.db.transaction();
  if (ctx.dialect === 'postgres') tx = tx.setIsolationLevel('repeatable read');
  return tx.execute(async (trx) => {
    const node = await trx.selectFrom('nodes').select('desired_revision').where('id', '=', nodeId).executeTakeFirst();
    if (!node) return null;
    const rows = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).where('scope', '=', 'exclusive').orderBy('id').execute();
    // Docker sites of other nodes that this one serves; left out when none, so older agents still parse the sync.
    const docker = await remoteDockerEntries(trx, nodeId);
    return { revision: node.desired_revision, routes: rows.map(routeToApi), ...(docker.length ? { dockerRoutes: docker } : {}) };
  });
}
