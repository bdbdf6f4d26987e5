import type { Route } from '@caddyfleet/protocol';
import type { ServiceContext } from '../services/context';
import { routeToApi } from '../services/route-mapping';

/**
 * Reads a node's revision and its centrally owned routes in one transaction, so the revision sent always
 * describes exactly the routes sent with it.
 */
export async function desiredState(ctx: ServiceContext, nodeId: string): Promise<{ revision: number; routes: Route[] } | null> {
  let tx = ctx.db.transaction();
  if (ctx.dialect === 'postgres') tx = tx.setIsolationLevel('repeatable read');
  return tx.execute(async (trx) => {
    const node = await trx.selectFrom('nodes').select('desired_revision').where('id', '=', nodeId).executeTakeFirst();
    if (!node) return null;
    const rows = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).where('scope', '=', 'exclusive').orderBy('id').execute();
    return { revision: node.desired_revision, routes: rows.map(routeToApi) };
  });
}
