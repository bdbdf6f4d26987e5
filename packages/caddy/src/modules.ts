import type { RouteKind } from '@caddyfleet/protocol';

/** The parts of a route (stored or as sent to the API) that decide which Caddy modules render it. */
export interface ModuleNeeds {
  kind: RouteKind;
  sni?: string[] | undefined;
  upstreams?: unknown[] | undefined;
}

/**
 * The Caddy modules the builder's rendering of `route` uses, as `caddy list-modules` names them. The controller
 * refuses a route whose node reported a module list without one of these; keep it in step with the builders.
 */
export function requiredModules(route: ModuleNeeds): string[] {
  switch (route.kind) {
    case 'proxy':
      return ['http.handlers.reverse_proxy'];
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
