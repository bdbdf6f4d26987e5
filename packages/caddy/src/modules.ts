import type { ProxyOptions, RouteKind } from '@caddyfleet/protocol';

/** The parts of a route (stored or as sent to the API) that decide which Caddy modules render it. */
export interface ModuleNeeds {
  kind: RouteKind;
  sni?: string[] | undefined;
  upstreams?: unknown[] | undefined;
  options?: ProxyOptions | null | undefined;
}

function proxyOptionModules(o: ProxyOptions): string[] {
  const m = ['http.handlers.subroute'];
  if (o.access?.deny?.length || o.access?.allow?.length) m.push('http.matchers.remote_ip', 'http.handlers.static_response');
  if (o.access?.allow?.length) m.push('http.matchers.not');
  if (o.maintenance) m.push('http.handlers.static_response');
  if (o.basicAuth?.length) m.push('http.handlers.authentication', 'http.authentication.providers.http_basic', 'http.authentication.hashes.bcrypt');
  if (o.hsts || o.headers?.request || o.headers?.response) m.push('http.handlers.headers');
  if (o.locations?.length) m.push('http.matchers.path');
  if (o.loadBalancing) m.push(`http.reverse_proxy.selection_policies.${o.loadBalancing}`);
  if (o.upstreamScheme === 'https') m.push('http.reverse_proxy.transport.http');
  return m;
}

/**
 * The Caddy modules the builder's rendering of `route` uses, as `caddy list-modules` names them. The controller
 * refuses a route whose node reported a module list without one of these; keep it in step with the builders.
 */
export function requiredModules(route: ModuleNeeds): string[] {
  switch (route.kind) {
    case 'proxy':
      return [...new Set(['http.handlers.reverse_proxy', ...(route.options ? proxyOptionModules(route.options) : [])])];
    case 'redirect':
    case 'dead':
      return ['http.handlers.static_response'];
    case 'stream':
      return [
        'layer4',
        'layer4.handlers.proxy',
        ...((route.upstreams?.length ?? 0) > 1 ? ['layer4.proxy.selection_policies.round_robin'] : []),
        ...(route.sni?.length ? ['layer4.matchers.tls', 'tls.handshake_match.sni'] : []),
      ];
  }
}

/** The first module of `needed` that `available` lacks, or null; null too when `available` is unknown. */
export function missingModule(needed: string[], available: readonly string[] | null): string | null {
  if (available === null) return null;
  const have = new Set(available);
  return needed.find((m) => !have.has(m)) ?? null;
}
