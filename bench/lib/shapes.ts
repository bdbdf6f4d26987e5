/**
 * The two Caddy config shapes the config-shape scenario compares: what caddyfleet renders now, and the
 * reference shape it rendered originally (one route with its own handler per caddyfleet route).
 */
import { buildCaddyConfig, type BuildOptions, type BuildResult } from '@caddyfleet/caddy';
import type { Route } from '@caddyfleet/protocol';

export function currentShape(routes: Route[], opts: BuildOptions): BuildResult {
  return buildCaddyConfig(routes, opts);
}

export function perRouteShape(routes: Route[], opts: BuildOptions): BuildResult {
  return buildCaddyConfig(routes, { ...opts, hostRouting: 'per-route' });
}
