/**
 * Combines the controller's routes for this node with the node's own local routes. Central routes always win:
 * a local route that claims a domain (or a stream port) a central route already serves here is left out and
 * reported, so a local edit can never take traffic away from what the controller assigned. Docker-discovered
 * routes come last: central and local routes both win over labels.
 */
import { dockerConflict, mergeDockerEntries, type DockerRouteView, type Route, type SourcedDockerEntry } from '@caddyfleet/protocol';
import type { StoredLocalRoute } from './state';

export interface RouteError {
  routeId: string;
  error: string;
}

export interface MergeResult {
  /** What to render: every central route plus the local routes that do not collide. */
  routes: Route[];
  /** One entry per local route left out, by local id (and per Docker route not served, by its id). */
  conflicts: RouteError[];
  /** Docker routes after the merge, with every problem (conflicts included). */
  docker: DockerRouteView[];
}

/** A Docker route in the shape the Caddy builder renders. */
export function dockerViewToRoute(view: DockerRouteView, nodeId: string | null): Route {
  const sources = view.entries.map((e) => ({
    nodeId: e.sourceNodeId,
    nodeName: e.sourceNodeName,
    containerId: e.containerId,
    containerName: e.containerName,
    state: e.state,
    stale: false,
  }));
  return {
    id: view.id,
    kind: view.kind,
    domains: view.domains,
    listen: null,
    upstreams: view.kind === 'proxy' ? view.upstreams : [],
    redirect: view.kind === 'redirect' ? view.redirect : null,
    nodeId,
    siteId: '',
    scope: 'local_only',
    origin: 'docker',
    enabled: true,
    tls: view.tls,
    createdAt: '',
    updatedAt: '',
    revision: 0,
    lastError: view.problems.length ? view.problems.join('; ') : null,
    source: sources[0] ?? null,
    sources,
  };
}


/** A local route in the shape the Caddy builder renders. */
export function localToRoute(local: StoredLocalRoute, nodeId: string | null): Route {
  return {
    id: local.id,
    kind: local.kind,
    domains: local.kind === 'stream' ? [] : local.domains,
    listen: local.kind === 'stream' ? local.listen : null,
    upstreams: local.kind === 'proxy' || local.kind === 'stream' ? local.upstreams : [],
    redirect: local.kind === 'redirect' ? local.redirect : null,
    nodeId,
    // The agent does not know its site; nothing rendered depends on it.
    siteId: '',
    scope: 'local_only',
    origin: 'local',
    enabled: local.enabled,
    tls: local.tls,
    createdAt: local.createdAt,
    updatedAt: local.updatedAt,
    revision: 0,
    lastError: null,
    ...(local.kind === 'stream' && local.sni?.length ? { sni: local.sni } : {}),
    ...(local.kind === 'stream' && local.proxyProtocol ? { proxyProtocol: local.proxyProtocol } : {}),
    ...(local.kind === 'proxy' && local.options ? { options: local.options } : {}),
  };
}

const streamKey = (listen: { port: number; protocol: string }) => `${listen.protocol}/${listen.port}`;

export function mergeRoutes(central: Route[], local: StoredLocalRoute[], nodeId: string | null, docker: SourcedDockerEntry[] = []): MergeResult {
  // Only enabled central routes hold a domain: a disabled one serves nothing, so it blocks nothing.
  const domainOwner = new Map<string, string>();
  const portOwner = new Map<string, string>();
  for (const r of central) {
    if (!r.enabled) continue;
    for (const d of r.domains) if (!domainOwner.has(d.toLowerCase())) domainOwner.set(d.toLowerCase(), r.id);
    if (r.kind === 'stream' && r.listen) portOwner.set(streamKey(r.listen), r.id);
  }

  const routes = [...central];
  const conflicts: RouteError[] = [];
  const taken = new Map<string, { id: string; origin: string }>();
  for (const [d, id] of domainOwner) taken.set(d, { id, origin: 'central' });
  for (const l of local) {
    const route = localToRoute(l, nodeId);
    if (!route.enabled) {
      routes.push(route);
      continue;
    }
    const clash = conflictOf(route, domainOwner, portOwner);
    if (clash) conflicts.push({ routeId: route.id, error: clash });
    else {
      routes.push(route);
      for (const d of route.domains) if (!taken.has(d)) taken.set(d, { id: route.id, origin: 'local' });
    }
  }

  const views = mergeDockerEntries(nodeId ?? '', docker);
  for (const view of views) {
    if (view.served) {
      const lost = view.domains.find((d) => taken.has(d));
      if (lost !== undefined) {
        view.served = false;
        view.problems.unshift(dockerConflict(lost, taken.get(lost)!));
      }
    }
    if (view.served) routes.push(dockerViewToRoute(view, nodeId));
    else conflicts.push({ routeId: view.id, error: view.problems.join('; ') });
  }
  conflicts.sort((a, b) => (a.routeId < b.routeId ? -1 : a.routeId > b.routeId ? 1 : 0));
  return { routes, conflicts, docker: views };
}

function conflictOf(route: Route, domainOwner: Map<string, string>, portOwner: Map<string, string>): string | null {
  for (const d of route.domains) {
    const owner = domainOwner.get(d.toLowerCase());
    if (owner !== undefined) return `domain ${d} conflicts with central route ${owner}`;
  }
  if (route.kind === 'stream' && route.listen) {
    const owner = portOwner.get(streamKey(route.listen));
    if (owner !== undefined) return `${route.listen.protocol} port ${route.listen.port} conflicts with central route ${owner}`;
  }
  return null;
}

/** The first domain or stream port `candidate` shares with another local route, for refusing duplicates up front. */
export function localDuplicate(candidate: StoredLocalRoute, others: StoredLocalRoute[]): string | null {
  const domains = new Set('domains' in candidate ? candidate.domains : []);
  for (const o of others) {
    if (o.id === candidate.id) continue;
    if ('domains' in o) {
      const hit = o.domains.find((d) => domains.has(d));
      if (hit) return `domain ${hit} is already used by local route ${o.id}`;
    }
    if (candidate.kind === 'stream' && o.kind === 'stream' && streamKey(candidate.listen) === streamKey(o.listen)) {
      return `${candidate.listen.protocol} port ${candidate.listen.port} is already used by local route ${o.id}`;
    }
  }
  return null;
}
