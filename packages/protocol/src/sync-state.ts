/**
 * Whether a node and a route are really served, derived from revisions and contact: one definition for the CLI
 * and the dashboard. A node that never connected has applied nothing, even when both revisions are 0.
 */
import type { FleetNode } from './fleet';
import type { Route } from './routes';

export type NodeSync = 'in_sync' | 'behind' | 'never_connected';

export function nodeSync(n: Pick<FleetNode, 'appliedRevision' | 'desiredRevision' | 'lastSeenAt'>): NodeSync {
  if (n.lastSeenAt === null) return 'never_connected';
  return n.appliedRevision >= n.desiredRevision ? 'in_sync' : 'behind';
}

export type RouteServing = 'served' | 'pending' | 'node_offline' | 'never_connected' | 'problem' | 'disabled' | 'unknown_node';

export interface RouteServingState {
  state: RouteServing;
  /** One short line for a table cell. */
  text: string;
}

type NodeView = Pick<FleetNode, 'appliedRevision' | 'lastSeenAt' | 'status' | 'name'>;

export function routeServing(route: Pick<Route, 'enabled' | 'revision' | 'lastError'>, node: NodeView | undefined): RouteServingState {
  if (!node) return { state: 'unknown_node', text: 'node not found' };
  if (node.lastSeenAt === null) return { state: 'never_connected', text: `not served: ${node.name} has never connected` };
  const applied = node.appliedRevision >= route.revision;
  if (route.lastError) return { state: 'problem', text: `not served: ${route.lastError}` };
  if (!route.enabled) return { state: 'disabled', text: applied ? 'disabled' : 'disabled (not yet applied)' };
  if (applied) return { state: 'served', text: node.status === 'online' ? 'served' : `served (last config; ${node.name} is ${node.status})` };
  if (node.status === 'online') return { state: 'pending', text: 'being applied' };
  return { state: 'node_offline', text: `waiting: ${node.name} is ${node.status}` };
}
