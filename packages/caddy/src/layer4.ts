import type { Route } from '@caddyfleet/protocol';
import { joinHostPort } from './addresses';
import type { Layer4App } from './caddy-json';

export const NO_LAYER4_REASON = 'stream routes need the layer4 Caddy module, which this Caddy does not have';

export interface Layer4Input {
  /** Stream routes, already filtered to enabled ones and sorted by id. */
  routes: Route[];
  /** Host the HTTP server listens on ('' = all interfaces); streams bind the same interface. */
  listenHost: string;
  /** `tcp/PORT` / `udp/PORT` keys already taken by Caddy's own listeners, with who holds them. */
  reserved: Map<string, string>;
}

export interface Layer4Output {
  app: Layer4App | undefined;
  served: number;
  unsupported: { routeId: string; reason: string }[];
}

/**
 * One layer4 server per stream route: a server binds its listen addresses and has no port matcher to
 * tell them apart, so routes cannot share one. A port that is already bound (by Caddy's HTTP servers,
 * admin API or an earlier stream route) would make Caddy refuse the whole config, so such a route is
 * reported instead of rendered.
 */
export function buildLayer4(input: Layer4Input): Layer4Output {
  const servers: Layer4App['servers'] = {};
  const unsupported: Layer4Output['unsupported'] = [];
  const taken = new Map(input.reserved);
  let served = 0;
  for (const route of input.routes) {
    if (!route.listen || route.upstreams.length === 0) {
      unsupported.push({ routeId: route.id, reason: 'stream route has no listen port or no upstreams' });
      continue;
    }
    const { protocol, port } = route.listen;
    const key = `${protocol}/${port}`;
    const holder = taken.get(key);
    if (holder !== undefined) {
      unsupported.push({ routeId: route.id, reason: `${protocol} port ${port} is already used by ${holder}` });
      continue;
    }
    taken.set(key, `route ${route.id}`);
    const network = protocol === 'udp' ? 'udp/' : '';
    servers[`stream_${route.id}`] = {
      listen: [`${protocol}/${joinHostPort(input.listenHost, port)}`],
      routes: [
        {
          handle: [
            { handler: 'proxy', upstreams: route.upstreams.map((u) => ({ dial: [network + joinHostPort(u.host, u.port)] })) },
          ],
        },
      ],
    };
    served++;
  }
  return { app: served > 0 ? { servers } : undefined, served, unsupported };
}
