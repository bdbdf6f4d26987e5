import type { Route } from '@caddyfleet/protocol';
import { adminTcpPort, parseListenAddress } from './addresses';
import type { CaddyConfig, HttpHandler, HttpRoute, HttpServer } from './caddy-json';
import { groupedHostRoutes, type HostEntry } from './host-map';
import { catchAllRoute, deadHandler, hostRoute, redirectHandler } from './http-handlers';
import { proxyHostHandler } from './proxy-host';
import { buildLayer4, NO_LAYER4_REASON } from './layer4';

export interface BuildOptions {
  /** Plain HTTP listener, e.g. ':80' or '127.0.0.2:8080'. */
  httpListen: string;
  /** HTTPS listener, e.g. ':443' or '127.0.0.2:8443'. */
  httpsListen: string;
  /** Caddy admin endpoint: 'unix//path/admin.sock' or '127.0.0.1:2019'. */
  adminListen: string;
  /** Whether this Caddy has the layer4 module; without it stream routes are reported, not rendered. */
  layer4: boolean;
  /** Certificate/ACME storage directory; Caddy's default ($XDG_DATA_HOME/caddy) when omitted. */
  storageDir?: string;
  /**
   * 'grouped' (default): one Caddy route per distinct handler listing its hosts (host-map.ts), which Caddy
   * loads several times faster; 'per-route': one Caddy route per caddyfleet route, same routing.
   */
  hostRouting?: 'grouped' | 'per-route';
}

export interface UnsupportedRoute {
  routeId: string;
  reason: string;
}

export interface BuildResult {
  /** Full config for Caddy's `POST /load`. */
  config: CaddyConfig;
  /** Enabled routes that were left out, sorted by route id. */
  unsupported: UnsupportedRoute[];
  /** Number of routes actually rendered. */
  served: number;
}

export const HTTP_SERVER = 'srv_http';
export const HTTPS_SERVER = 'srv_https';

// Plain code-unit order: localeCompare could differ between hosts and break byte-identical output.
const byId = (a: Route, b: Route) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function httpHandlerFor(route: Route): { handler: HttpHandler } | { reason: string } {
  if (route.domains.length === 0) return { reason: `${route.kind} route has no domains` };
  switch (route.kind) {
    case 'proxy':
      return route.upstreams.length > 0 ? { handler: proxyHostHandler(route) } : { reason: 'proxy route has no upstreams' };
    case 'redirect':
      return route.redirect ? { handler: redirectHandler(route.redirect) } : { reason: 'redirect route has no redirect target' };
    case 'dead':
      return { handler: deadHandler() };
    default:
      return { reason: `route kind ${route.kind} is not an HTTP route` };
  }
}

/**
 * Handlers already made, by route object. A node's config is rendered again for every change, from mostly the
 * same route objects; routes are never modified once received (and rendered handlers never modified either).
 */
const handlerCache = new WeakMap<Route, ReturnType<typeof httpHandlerFor>>();

function cachedHandlerFor(route: Route): ReturnType<typeof httpHandlerFor> {
  let result = handlerCache.get(route);
  if (!result) handlerCache.set(route, (result = httpHandlerFor(route)));
  return result;
}

/**
 * Renders the routes of one node as a complete Caddy config. Pure: the same routes and options always
 * give byte-identical JSON, which lets the agent skip `/load` when nothing changed.
 */
export function buildCaddyConfig(routes: Route[], opts: BuildOptions): BuildResult {
  const http = parseListenAddress(opts.httpListen);
  const https = parseListenAddress(opts.httpsListen);
  if (http.port === https.port) throw new Error(`httpListen and httpsListen must use different ports (both use ${http.port})`);

  const plainRoutes: HostEntry[] = [];
  const tlsRoutes: HostEntry[] = [];
  const internalSubjects = new Set<string>();
  const streams: Route[] = [];
  const unsupported: UnsupportedRoute[] = [];

  for (const route of routes.filter((r) => r.enabled).sort(byId)) {
    if (route.kind === 'stream') {
      if (opts.layer4) streams.push(route);
      else unsupported.push({ routeId: route.id, reason: NO_LAYER4_REASON });
      continue;
    }
    const result = cachedHandlerFor(route);
    if ('reason' in result) {
      unsupported.push({ routeId: route.id, reason: result.reason });
      continue;
    }
    const rendered = { domains: route.domains, handler: result.handler };
    if (route.tls === 'off') {
      plainRoutes.push(rendered);
    } else {
      tlsRoutes.push(rendered);
      // Caddy adds its HTTP->HTTPS redirects after the HTTP server's host routes, so this one wins over them.
      if (route.kind === 'proxy' && route.options?.forceHttps === false) plainRoutes.push(rendered);
      if (route.tls === 'internal') for (const d of route.domains) internalSubjects.add(d);
    }
  }

  const reserved = new Map<string, string>([
    [`tcp/${http.port}`, 'the HTTP server'],
    [`tcp/${https.port}`, 'the HTTPS server'],
    // Caddy serves HTTP/3 over UDP on the HTTPS port.
    [`udp/${https.port}`, 'HTTP/3 on the HTTPS server'],
  ]);
  const adminPort = adminTcpPort(opts.adminListen);
  if (adminPort !== null) reserved.set(`tcp/${adminPort}`, 'the Caddy admin API');
  const layer4 = buildLayer4({ routes: streams, listenHost: http.host, reserved });
  unsupported.push(...layer4.unsupported);
  unsupported.sort((a, b) => (a.routeId < b.routeId ? -1 : a.routeId > b.routeId ? 1 : 0));

  const render = (entries: HostEntry[]): HttpRoute[] =>
    opts.hostRouting === 'per-route' ? entries.map((e) => hostRoute([...e.domains], e.handler)) : groupedHostRoutes(entries);
  const servers: Record<string, HttpServer> = {
    [HTTP_SERVER]: {
      listen: [opts.httpListen],
      // tls 'off' hosts live here: no certificates and no redirect for them. Caddy still appends the
      // HTTP->HTTPS redirects of the HTTPS server's hosts to this server, because it listens on http_port.
      automatic_https: { disable: true },
      routes: [...render(plainRoutes), catchAllRoute()],
    },
  };
  // Only rendered when needed: a TLS listener without any host has no certificate to offer.
  if (tlsRoutes.length > 0) servers[HTTPS_SERVER] = { listen: [opts.httpsListen], routes: [...render(tlsRoutes), catchAllRoute()] };

  const config: CaddyConfig = {
    admin: { listen: opts.adminListen },
    ...(opts.storageDir !== undefined ? { storage: { module: 'file_system' as const, root: opts.storageDir } } : {}),
    apps: {
      // http_port tells Caddy which listener is the plain one (redirect target, ACME HTTP challenge).
      // https_port is left at its default on purpose: Caddy then puts a non-443 HTTPS port into its
      // redirect Location, which is what a client connecting directly needs.
      http: { http_port: http.port, servers },
      ...(internalSubjects.size > 0
        ? { tls: { automation: { policies: [{ subjects: [...internalSubjects].sort(), issuers: [{ module: 'internal' }] }] } } }
        : {}),
      // Caddy's local CA (tls 'internal', and 'auto' for names like localhost) would otherwise try to
      // install its root into the host's trust store, which a fleet agent must never do.
      ...(tlsRoutes.length > 0 ? { pki: { certificate_authorities: { local: { install_trust: false } } } } : {}),
      ...(layer4.app ? { layer4: layer4.app } : {}),
    },
  };

  const served = plainRoutes.length + tlsRoutes.length + layer4.served;
  return { config, unsupported, served };
}
