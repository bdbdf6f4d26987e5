import type { Route } from '@caddyfleet/protocol';
import { joinHostPort } from './addresses';
import type { Layer4App, Layer4Route } from './caddy-json';

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

/** Who holds a stream port: one route taking every connection, or routes that each take their TLS server names. */
type PortUse = { whole: string } | { names: Map<string, string>; routes: Layer4Route[] };

function streamRoute(route: Route): Layer4Route {
  const network = route.listen?.protocol === 'udp' ? 'udp/' : '';
  const proxy: Layer4Route['handle'][number] = {
    handler: 'proxy',
    upstreams: route.upstreams.map((u) => ({ dial: [network + joinHostPort(u.host, u.port)] })),
  };
  // caddy-l4 picks at random by default; round robin spreads connections evenly and predictably, like nginx.
  if (route.upstreams.length > 1) proxy.load_balancing = { selection: { policy: 'round_robin' } };
  if (route.proxyProtocol) proxy.proxy_protocol = route.proxyProtocol;
  const rendered: Layer4Route = { handle: [proxy] };
  // TLS passthrough: the ClientHello is only read for its server name and then forwarded untouched.
  if (route.sni?.length && route.listen?.protocol === 'tcp') rendered.match = [{ tls: { sni: [...route.sni] } }];
  return rendered;
}

/**
 * One layer4 server per listened port: a server binds its listen addresses, and what tells the routes on one port
 * apart is the TLS server name (SNI) matcher. A port already bound (by Caddy's HTTP servers, admin API or an
 * earlier stream route that takes the whole port) or a server name already routed on that port would make Caddy
 * refuse or mis-route, so such a route is reported instead of rendered; the earlier route by id keeps the port.
 */
export function buildLayer4(input: Layer4Input): Layer4Output {
  const unsupported: Layer4Output['unsupported'] = [];
  const ports = new Map<string, PortUse>();
  let served = 0;
  for (const route of input.routes) {
    if (!route.listen || route.upstreams.length === 0) {
      unsupported.push({ routeId: route.id, reason: 'stream route has no listen port or no upstreams' });
      continue;
    }
    const { protocol, port } = route.listen;
    const key = `${protocol}/${port}`;
    const holder = input.reserved.get(key);
    if (holder !== undefined) {
      unsupported.push({ routeId: route.id, reason: `${protocol} port ${port} is already used by ${holder}` });
      continue;
    }
    const names = protocol === 'tcp' ? (route.sni ?? []) : [];
    const use = ports.get(key);
    if (use && 'whole' in use) {
      unsupported.push({ routeId: route.id, reason: `${protocol} port ${port} is already used by route ${use.whole}` });
      continue;
    }
    if (use && names.length === 0) {
      const first = [...use.names.values()][0];
      unsupported.push({ routeId: route.id, reason: `${protocol} port ${port} is already used by route ${first} (routed by server name)` });
      continue;
    }
    const clash = use ? names.find((n) => use.names.has(n)) : undefined;
    if (use && clash !== undefined) {
      unsupported.push({ routeId: route.id, reason: `server name ${clash} on ${protocol} port ${port} is already used by route ${use.names.get(clash)}` });
      continue;
    }
    if (names.length === 0) {
      ports.set(key, { whole: route.id });
    } else {
      const shared = use ?? { names: new Map<string, string>(), routes: [] };
      for (const n of names) shared.names.set(n, route.id);
      shared.routes.push(streamRoute(route));
      ports.set(key, shared);
    }
    served++;
  }
  if (served === 0) return { app: undefined, served, unsupported };

  const byId = new Map(input.routes.map((r) => [r.id, r]));
  const servers: Layer4App['servers'] = {};
  for (const [key, use] of ports) {
    const [protocol, port] = key.split('/') as [string, string];
    servers[`stream_${protocol}_${port}`] = {
      listen: [`${protocol}/${joinHostPort(input.listenHost, Number(port))}`],
      routes: 'whole' in use ? [streamRoute(byId.get(use.whole)!)] : use.routes,
    };
  }
  return { app: { servers }, served, unsupported };
}
