/**
 * Routes and lookups shared by the unit tests of buildCaddyConfig (packages/caddy/src/build-config*.test.ts):
 * `route(id, fields)` makes a valid central proxy route for `<id>.example.com`, `redirect` and `stream` the other
 * kinds; `servers`, `routeFor` and `expectCatchAllLast` read the rendered config.
 */
import { expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import type { BuildOptions } from '../src/build-config';
import type { CaddyConfig, HttpRoute } from '../src/caddy-json';

export const opts: BuildOptions = { httpListen: ':80', httpsListen: ':443', adminListen: 'unix//run/caddy/admin.sock', layer4: false };

export function route(id: string, fields: Partial<Route> = {}): Route {
  return {
    id,
    kind: 'proxy',
    domains: [`${id}.example.com`],
    listen: null,
    upstreams: [{ host: '127.0.0.11', port: 8080 }],
    redirect: null,
    nodeId: null,
    siteId: 'site1',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: 'auto',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    revision: 1,
    lastError: null,
    ...fields,
  };
}

export const redirect = (id: string, to: string, status: 301 | 302 | 307 | 308, preservePath: boolean, tls: Route['tls'] = 'off') =>
  route(id, { kind: 'redirect', upstreams: [], redirect: { to, status, preservePath }, tls });

export const stream = (id: string, port: number, protocol: 'tcp' | 'udp' = 'tcp') =>
  route(id, { kind: 'stream', domains: [], listen: { port, protocol }, upstreams: [{ host: '127.0.0.19', port: 5432 }], tls: 'off' });

export function servers(config: CaddyConfig) {
  return config.apps.http.servers;
}

/** The rendered route for a host, searched in both servers. */
export function routeFor(config: CaddyConfig, host: string): { server: string; route: HttpRoute } {
  for (const [server, srv] of Object.entries(servers(config))) {
    const found = srv.routes.find((r) => r.match?.some((m) => m.host.includes(host)));
    if (found) return { server, route: found };
  }
  throw new Error(`no route for ${host}`);
}

export function expectCatchAllLast(routes: HttpRoute[]) {
  const last = routes[routes.length - 1];
  expect(last?.match).toBeUndefined();
  expect(last?.terminal).toBe(true);
  expect(last?.handle).toHaveLength(1);
  expect(last?.handle[0]).toMatchObject({ handler: 'static_response', status_code: 404 });
  // Exactly one route without matchers, and it is the last one.
  expect(routes.filter((r) => r.match === undefined)).toHaveLength(1);
}
