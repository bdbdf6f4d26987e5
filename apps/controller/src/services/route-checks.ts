/**
 * Checks a route must pass against its node before it is stored: the node's Caddy has the modules that render
 * it, and a stream's port is free there (not an HTTP listener, not taken by another stream on the same or no
 * TLS server name).
 */
import { NO_LAYER4_REASON, missingModule, requiredModules, type ModuleNeeds } from '@caddyfleet/caddy';
import { hostBitRangeProblems, type ProxyOptions } from '@caddyfleet/protocol';
import type { Db, Dialect } from '../db/connect';
import type { NodeTable } from '../db/schema';
import { ConflictError, ValidationError } from '../errors';
import { parseJsonArray } from './node-service';

export type NodeFacts = Pick<NodeTable, 'id' | 'name' | 'site_id' | 'caddy_modules' | 'http_port' | 'https_port'>;

/**
 * A problem known before the node reports it, from the node's module list: the note a route the node could not
 * serve carries while it is disabled (an enabled one is refused by `checkModules`). Null while the modules are
 * unknown: the node's agent then reports what it cannot serve in its ack.
 */
export function knownProblem(route: ModuleNeeds, node: Pick<NodeTable, 'name' | 'caddy_modules'>): string | null {
  const missing = missingModule(requiredModules(route), parseJsonArray(node.caddy_modules));
  if (missing === null) return null;
  // The agent's own wording for a Caddy without layer4, so the note reads the same whoever wrote it.
  return missing === 'layer4' ? NO_LAYER4_REASON : lacksMessage(node.name, missing, route.kind);
}

function lacksMessage(nodeName: string, missing: string, kind: string): string {
  const hint = missing.startsWith('layer4') ? ' (stream routes need a Caddy built with caddy-l4: scripts/build-caddy.sh)' : '';
  return `the Caddy of node ${nodeName} has no module ${missing}, which this ${kind} route needs${hint}`;
}

/**
 * Refuses an enabled route whose rendering needs a module the node's Caddy lacks. A node that never reported its
 * modules (never connected, or an existing Caddy the agent cannot inspect) is given the benefit of the doubt:
 * its agent then reports the route as unsupported in the route's lastError. A disabled route serves nothing, so
 * it is accepted, and checked when it is enabled.
 */
export function checkModules(node: NodeFacts, route: ModuleNeeds & { enabled: boolean }): void {
  if (!route.enabled) return;
  const missing = missingModule(requiredModules(route), parseJsonArray(node.caddy_modules));
  if (missing === null) return;
  throw new ConflictError('node_lacks_module', lacksMessage(node.name, missing, route.kind), {
    module: missing,
    nodeId: node.id,
  });
}

/** Refuses access-list ranges with host bits set that `before` (the stored options) did not have. */
export function checkAccessRanges(options: ProxyOptions | null | undefined, before: ProxyOptions | null | undefined): void {
  const problems = hostBitRangeProblems(options, before);
  if (!problems.length) return;
  const details = problems.map((p) => ({ path: ['options', ...p.path].join('.'), message: p.message }));
  throw new ValidationError(`invalid body: ${details[0]!.path}: ${details[0]!.message}`, details);
}

function listenConflict(listen: { port: number; protocol: string }, holder: string, routeId?: string): ConflictError {
  return new ConflictError('listen_conflict', `${listen.protocol} port ${listen.port} is already used on this node by ${holder}`, {
    port: listen.port,
    protocol: listen.protocol,
    ...(routeId ? { routeId } : {}),
  });
}

/**
 * A stream's port against the node's HTTP/HTTPS listeners (HTTPS also holds the UDP port, for HTTP/3) and against
 * the other streams: a stream without server names takes the whole port; streams with server names share it as
 * long as no name repeats. On PostgreSQL the node row is locked first, so two writers cannot both pass this check
 * with a catch-all and a named stream (which the unique index alone would not see as a clash).
 */
export async function checkListen(
  trx: Db,
  dialect: Dialect,
  node: NodeFacts,
  listen: { port: number; protocol: string },
  sni: string[],
  selfId: string | null,
): Promise<void> {
  if (listen.protocol === 'tcp' && listen.port === node.http_port) throw listenConflict(listen, "the node's HTTP listener");
  if (listen.port === node.https_port) throw listenConflict(listen, listen.protocol === 'tcp' ? "the node's HTTPS listener" : "the node's HTTPS listener (HTTP/3)");
  if (dialect === 'postgres') await trx.selectFrom('nodes').select('id').where('id', '=', node.id).forUpdate().executeTakeFirst();
  let q = trx
    .selectFrom('route_listens')
    .select(['route_id', 'sni'])
    .where('node_id', '=', node.id)
    .where('port', '=', listen.port)
    .where('protocol', '=', listen.protocol);
  if (selfId) q = q.where('route_id', '!=', selfId);
  const holders = await q.execute();
  const names = new Set(sni);
  for (const h of holders) {
    if (h.sni === '' || names.size === 0) throw listenConflict(listen, `route ${h.route_id}`, h.route_id);
    if (names.has(h.sni)) {
      throw new ConflictError('listen_conflict', `server name ${h.sni} on ${listen.protocol} port ${listen.port} is already used on this node by route ${h.route_id}`, {
        port: listen.port,
        protocol: listen.protocol,
        sni: h.sni,
        routeId: h.route_id,
      });
    }
  }
}
