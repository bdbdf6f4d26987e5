/**
 * A proxy host with options (see `proxyOptionsSchema`): one subroute that applies, in order, the IP access lists
 * (403), the maintenance page (503), basic auth (401), header changes and HSTS, then the custom locations (longest
 * prefix first) and finally the main upstreams. A proxy host without options renders as a bare reverse_proxy.
 */
import type { ProxyOptions, Route } from '@caddyfleet/protocol';
import { joinHostPort } from './addresses';
import type { HttpHandler } from './caddy-json';

const HSTS = 'max-age=31536000; includeSubDomains';

function page(status: number, title: string, text: string): HttpHandler {
  return {
    handler: 'static_response',
    status_code: status,
    headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Cache-Control': ['no-store'] },
    body: `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`,
  };
}

export function reverseProxy(upstreams: Route['upstreams'], options: ProxyOptions = {}): HttpHandler {
  // Caddy's reverse_proxy passes WebSocket upgrades through by itself; nothing to configure.
  const handler: HttpHandler = { handler: 'reverse_proxy', upstreams: upstreams.map((u) => ({ dial: joinHostPort(u.host, u.port) })) };
  if (options.loadBalancing) handler.load_balancing = { selection_policy: { policy: options.loadBalancing } };
  const hc = options.healthChecks;
  if (hc?.active || hc?.passive) {
    handler.health_checks = {
      ...(hc.active
        ? {
            active: {
              uri: hc.active.path,
              interval: `${hc.active.intervalSeconds}s`,
              timeout: `${hc.active.timeoutSeconds}s`,
              ...(hc.active.expectStatus ? { expect_status: hc.active.expectStatus } : {}),
            },
          }
        : {}),
      ...(hc.passive ? { passive: { max_fails: hc.passive.maxFails, fail_duration: `${hc.passive.failDurationSeconds}s` } } : {}),
    };
  }
  if (options.upstreamScheme === 'https') handler.transport = { protocol: 'http', tls: options.skipVerify ? { insecure_skip_verify: true } : {} };
  return handler;
}

interface SubRoute {
  match?: Record<string, unknown>[];
  handle: HttpHandler[];
  terminal?: boolean;
}

function headerOps(ops: { set?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined, extraSet: Record<string, string> = {}) {
  const set = { ...(ops?.set ?? {}), ...extraSet };
  const out: Record<string, unknown> = {};
  if (Object.keys(set).length) out.set = Object.fromEntries(Object.entries(set).map(([k, v]) => [k, [v]]));
  if (ops?.remove?.length) out.delete = [...ops.remove];
  return Object.keys(out).length ? out : null;
}

/** The handler of a proxy host: a bare reverse_proxy without options, else a subroute. */
export function proxyHostHandler(route: Route): HttpHandler {
  const o = route.options;
  if (!o) return reverseProxy(route.upstreams);
  const routes: SubRoute[] = [];
  const deny = o.access?.deny ?? [];
  const allow = o.access?.allow ?? [];
  const forbidden = page(403, '403 Forbidden', 'Your address may not access this site.');
  if (deny.length) routes.push({ match: [{ remote_ip: { ranges: [...deny] } }], handle: [forbidden], terminal: true });
  if (allow.length) routes.push({ match: [{ not: [{ remote_ip: { ranges: [...allow] } }] }], handle: [forbidden], terminal: true });
  if (o.maintenance) routes.push({ handle: [page(503, 'Down for maintenance', 'This site is down for maintenance. Please try again later.')], terminal: true });
  if (o.basicAuth?.length) {
    routes.push({
      handle: [
        {
          handler: 'authentication',
          providers: {
            http_basic: {
              hash: { algorithm: 'bcrypt' },
              // Base64 of the hash: the only spelling Caddy 2.6 reads; later versions read both.
              accounts: o.basicAuth.map((a) => ({ username: a.username, password: Buffer.from(a.passwordHash).toString('base64') })),
              realm: 'restricted',
            },
          },
        },
      ],
    });
  }
  const request = headerOps(o.headers?.request);
  // Deferred: applied to the upstream's response as it goes out, so a set replaces the upstream's own value.
  const response = headerOps(o.headers?.response, o.hsts ? { 'Strict-Transport-Security': HSTS } : {});
  if (request || response) {
    routes.push({ handle: [{ handler: 'headers', ...(request ? { request } : {}), ...(response ? { response: { ...response, deferred: true } } : {}) }] });
  }
  const locations = [...(o.locations ?? [])].sort((a, b) => b.path.length - a.path.length || (a.path < b.path ? -1 : 1));
  // Health checks describe the main upstreams (their health path); a location's upstreams are other services.
  const { healthChecks: _main, ...locationOptions } = o;
  for (const l of locations) {
    routes.push({ match: [{ path: [l.path, `${l.path}/*`] }], handle: [reverseProxy(l.upstreams, locationOptions)], terminal: true });
  }
  routes.push({ handle: [reverseProxy(route.upstreams, o)] });
  return { handler: 'subroute', routes };
}
