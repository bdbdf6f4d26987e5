/**
 * What deleting a node does to its routes: they are kept, moved to the controller's local node. A route whose
 * domain or port the local node already serves is moved disabled, with a lastError saying why, and is left out
 * of the domain/port index, so nothing is lost and nothing conflicts; enabling it later gets the usual
 * domain_conflict/listen_conflict until the clash is resolved. Routes managed on the removed host (`local_only`)
 * lived on that host only and go with it.
 */
import type { Route } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import type { RouteTable } from '../db/schema';
import { audit } from './audit-service';
import { LOCAL_NODE_ID, type Actor, type ServiceContext } from './context';
import { bumpRevision } from './node-service';
import { routeToApi, type RouteSpec } from './route-mapping';

export interface Reassigned {
  routes: Route[];
  /** The local node's new revision, when any route moved there. */
  revision: number | null;
}

async function clashOf(trx: Db, spec: RouteSpec): Promise<string | null> {
  if (spec.domains.length) {
    const d = await trx
      .selectFrom('route_domains')
      .select(['domain', 'route_id'])
      .where('node_id', '=', LOCAL_NODE_ID)
      .where('domain', 'in', spec.domains)
      .executeTakeFirst();
    if (d) return `domain ${d.domain} is already served on the local node by route ${d.route_id}`;
  }
  if (spec.listen) {
    const l = await trx
      .selectFrom('route_listens')
      .select('route_id')
      .where('node_id', '=', LOCAL_NODE_ID)
      .where('port', '=', spec.listen.port)
      .where('protocol', '=', spec.listen.protocol)
      .executeTakeFirst();
    if (l) return `${spec.listen.protocol} port ${spec.listen.port} is already used on the local node by route ${l.route_id}`;
  }
  return null;
}

export async function reassignRoutesToLocal(trx: Db, ctx: ServiceContext, actor: Actor, nodeId: string, nodeName: string): Promise<Reassigned> {
  await trx.deleteFrom('routes').where('node_id', '=', nodeId).where('scope', '=', 'local_only').execute();
  const rows = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).orderBy('created_at').orderBy('id').execute();
  if (rows.length === 0) return { routes: [], revision: null };
  const local = await trx.selectFrom('nodes').select('site_id').where('id', '=', LOCAL_NODE_ID).executeTakeFirstOrThrow();
  const revision = await bumpRevision(trx, LOCAL_NODE_ID);
  const now = ctx.now().toISOString();
  const moved: Route[] = [];
  for (const before of rows) {
    const spec = JSON.parse(before.spec) as RouteSpec;
    await trx.deleteFrom('route_domains').where('route_id', '=', before.id).execute();
    await trx.deleteFrom('route_listens').where('route_id', '=', before.id).execute();
    const clash = await clashOf(trx, spec);
    const why = clash ?? (ctx.localNodeEnabled ? null : 'this controller runs without a local node (--no-local-node)');
    const after: RouteTable = {
      ...before,
      node_id: LOCAL_NODE_ID,
      site_id: local.site_id,
      revision,
      updated_at: now,
      enabled: why ? 0 : before.enabled,
      last_error: why ? `moved here disabled when node ${nodeName} was deleted: ${why}` : null,
    };
    await trx.updateTable('routes').set(after).where('id', '=', before.id).execute();
    if (!clash) {
      if (spec.domains.length) {
        await trx.insertInto('route_domains').values(spec.domains.map((domain) => ({ route_id: before.id, node_id: LOCAL_NODE_ID, domain }))).execute();
      }
      if (spec.listen) {
        await trx.insertInto('route_listens').values({ route_id: before.id, node_id: LOCAL_NODE_ID, port: spec.listen.port, protocol: spec.listen.protocol }).execute();
      }
    }
    const api = routeToApi(after);
    await audit(trx, ctx, actor, 'update', 'route', before.id, routeToApi(before), api);
    moved.push(api);
  }
  return { routes: moved, revision };
}

/** Commands that remove the agent from a host it was deleted from (shown to the user; run there as root). */
export function uninstallCommands(): string[] {
  return [
    'sudo caddyfleet-agent uninstall',
    'sudo systemctl disable --now caddyfleet-firewall.path',
    'sudo rm -f /etc/systemd/system/caddyfleet-firewall.path /etc/systemd/system/caddyfleet-firewall.service /usr/local/sbin/caddyfleet-firewall-sync /etc/caddyfleet-firewall.conf',
    'sudo systemctl daemon-reload',
  ];
}
