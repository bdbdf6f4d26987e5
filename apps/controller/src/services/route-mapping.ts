import type { DockerSource, ProxyOptions, Route, RouteCreate } from '@caddyfleet/protocol';
import type { RouteTable } from '../db/schema';
import { LOCAL_NODE_ID } from './context';

/** The kind-specific part of a route, stored as JSON in `routes.spec`. */
export interface RouteSpec {
  domains: string[];
  upstreams: { host: string; port: number }[];
  redirect: Route['redirect'];
  listen: Route['listen'];
  /** Stream only, present when set: kept out of the JSON otherwise, so older rows compare equal. */
  sni?: string[];
  proxyProtocol?: 'v1' | 'v2';
  /** Proxy only, present when any option is set. */
  options?: ProxyOptions;
}

/** Options with nothing set are no options: kept out of the JSON like an absent field. */
function someOptions(options: ProxyOptions | null | undefined): ProxyOptions | undefined {
  if (!options) return undefined;
  return Object.values(options).some((v) => v !== undefined) ? options : undefined;
}

export function specOf(input: RouteCreate): RouteSpec {
  return {
    domains: 'domains' in input ? input.domains : [],
    upstreams: 'upstreams' in input ? input.upstreams : [],
    redirect: input.kind === 'redirect' ? input.redirect : null,
    listen: input.kind === 'stream' ? input.listen : null,
    ...(input.kind === 'stream' && input.sni?.length ? { sni: input.sni } : {}),
    ...(input.kind === 'stream' && input.proxyProtocol ? { proxyProtocol: input.proxyProtocol } : {}),
    ...(input.kind === 'proxy' && someOptions(input.options) ? { options: input.options! } : {}),
  };
}

export function apiNodeId(dbNodeId: string): string | null {
  return dbNodeId === LOCAL_NODE_ID ? null : dbNodeId;
}

export function dbNodeId(apiId: string | null | undefined): string {
  return apiId ?? LOCAL_NODE_ID;
}

export function routeToApi(row: RouteTable): Route {
  const spec = JSON.parse(row.spec) as RouteSpec;
  const route: Route = {
    id: row.id,
    kind: row.kind as Route['kind'],
    domains: spec.domains,
    listen: spec.listen,
    upstreams: spec.upstreams,
    redirect: spec.redirect,
    nodeId: apiNodeId(row.node_id),
    siteId: row.site_id,
    scope: row.scope as Route['scope'],
    origin: row.origin as Route['origin'],
    enabled: row.enabled === 1,
    tls: row.tls as Route['tls'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revision: row.revision,
    lastError: row.last_error,
    ...(spec.sni?.length ? { sni: spec.sni } : {}),
    ...(spec.proxyProtocol ? { proxyProtocol: spec.proxyProtocol } : {}),
    ...(spec.options ? { options: spec.options } : {}),
  };
  if (row.origin === 'docker') {
    const sources = row.source ? (JSON.parse(row.source) as DockerSource[]) : [];
    route.source = sources[0] ?? null;
    route.sources = sources;
  }
  return route;
}

/** The fields a client may set, as they would be sent to `POST /routes`: the base for merging a patch. */
export function routeToInput(route: Route): Record<string, unknown> {
  const base: Record<string, unknown> = { kind: route.kind, nodeId: route.nodeId, scope: route.scope, enabled: route.enabled, tls: route.tls };
  switch (route.kind) {
    case 'proxy':
      return { ...base, domains: route.domains, upstreams: route.upstreams, ...(route.options ? { options: route.options } : {}) };
    case 'redirect':
      return { ...base, domains: route.domains, redirect: route.redirect };
    case 'stream':
      return {
        ...base,
        listen: route.listen,
        upstreams: route.upstreams,
        ...(route.sni ? { sni: route.sni } : {}),
        ...(route.proxyProtocol ? { proxyProtocol: route.proxyProtocol } : {}),
      };
    case 'dead':
      return { ...base, domains: route.domains };
  }
}
