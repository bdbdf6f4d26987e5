import { describe, it, expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig, type BuildOptions } from './build-config';
import type { CaddyConfig, HttpRoute } from './caddy-json';
import { NO_LAYER4_REASON } from './layer4';

const opts: BuildOptions = { httpListen: ':80', httpsListen: ':443', adminListen: 'unix//run/caddy/admin.sock', layer4: false };

function route(id: string, fields: Partial<Route> = {}): Route {
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

const redirect = (id: string, to: string, status: 301 | 302 | 307 | 308, preservePath: boolean, tls: Route['tls'] = 'off') =>
  route(id, { kind: 'redirect', upstreams: [], redirect: { to, status, preservePath }, tls });

const stream = (id: string, port: number, protocol: 'tcp' | 'udp' = 'tcp') =>
  route(id, { kind: 'stream', domains: [], listen: { port, protocol }, upstreams: [{ host: '127.0.0.19', port: 5432 }], tls: 'off' });

function servers(config: CaddyConfig) {
  return config.apps.http.servers;
}

/** The rendered route for a host, searched in both servers. */
function routeFor(config: CaddyConfig, host: string): { server: string; route: HttpRoute } {
  for (const [server, srv] of Object.entries(servers(config))) {
    const found = srv.routes.find((r) => r.match?.some((m) => m.host.includes(host)));
    if (found) return { server, route: found };
  }
  throw new Error(`no route for ${host}`);
}

function expectCatchAllLast(routes: HttpRoute[]) {
  const last = routes[routes.length - 1];
  expect(last?.match).toBeUndefined();
  expect(last?.terminal).toBe(true);
  expect(last?.handle).toHaveLength(1);
  expect(last?.handle[0]).toMatchObject({ handler: 'static_response', status_code: 404 });
  // Exactly one route without matchers, and it is the last one.
  expect(routes.filter((r) => r.match === undefined)).toHaveLength(1);
}

describe('buildCaddyConfig: top level', () => {
  it('renders admin, http_port and no storage/tls/pki/layer4 for an empty route list', () => {
    const { config, served, unsupported } = buildCaddyConfig([], opts);
    expect(served).toBe(0);
    expect(unsupported).toEqual([]);
    expect(config.admin).toEqual({ listen: 'unix//run/caddy/admin.sock' });
    expect(config).not.toHaveProperty('storage');
    expect(Object.keys(config.apps)).toEqual(['http']);
    expect(config.apps.http.http_port).toBe(80);
    expect(config.apps.http).not.toHaveProperty('https_port');
    expect(Object.keys(servers(config))).toEqual(['srv_http']);
    expect(servers(config).srv_http?.listen).toEqual([':80']);
    expect(servers(config).srv_http?.automatic_https).toEqual({ disable: true });
    expectCatchAllLast(servers(config).srv_http!.routes);
    expect(config).not.toHaveProperty('logging');
  });

  it('uses the listen addresses exactly as given and derives http_port from httpListen', () => {
    const { config } = buildCaddyConfig([route('a', { tls: 'internal' })], {
      ...opts,
      httpListen: '127.0.0.2:18080',
      httpsListen: '127.0.0.2:18443',
      adminListen: '127.0.0.1:2019',
    });
    expect(config.admin.listen).toBe('127.0.0.1:2019');
    expect(config.apps.http.http_port).toBe(18080);
    expect(servers(config).srv_http?.listen).toEqual(['127.0.0.2:18080']);
    expect(servers(config).srv_https?.listen).toEqual(['127.0.0.2:18443']);
  });

  it('adds file_system storage when storageDir is given', () => {
    const { config } = buildCaddyConfig([], { ...opts, storageDir: '/var/lib/caddyfleet/caddy' });
    expect(config.storage).toEqual({ module: 'file_system', root: '/var/lib/caddyfleet/caddy' });
    expect(Object.keys(config)).toEqual(['admin', 'storage', 'apps']);
  });

  it('rejects malformed listen addresses and equal HTTP/HTTPS ports', () => {
    expect(() => buildCaddyConfig([], { ...opts, httpListen: 'localhost' })).toThrow(/invalid listen address "localhost"/);
    expect(() => buildCaddyConfig([], { ...opts, httpsListen: ':0' })).toThrow(/invalid listen address/);
    expect(() => buildCaddyConfig([], { ...opts, httpsListen: ':70000' })).toThrow(/invalid listen address/);
    expect(() => buildCaddyConfig([], { ...opts, httpListen: '127.0.0.1:80', httpsListen: '127.0.0.2:80' })).toThrow(/different ports/);
  });
});

describe('buildCaddyConfig: proxy routes', () => {
  it('renders a reverse_proxy with host:port upstreams in a host-matched terminal route', () => {
    const r = route('web', {
      domains: ['web.example.com', 'www.example.com'],
      upstreams: [
        { host: '127.0.0.11', port: 8080 },
        { host: 'app.internal', port: 3000 },
      ],
      tls: 'off',
    });
    const { config, served } = buildCaddyConfig([r], opts);
    expect(served).toBe(1);
    expect(servers(config).srv_http?.routes[0]).toEqual({
      match: [{ host: ['web.example.com', 'www.example.com'] }],
      handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '127.0.0.11:8080' }, { dial: 'app.internal:3000' }] }],
      terminal: true,
    });
  });

  it('puts IPv6 upstreams in brackets', () => {
    const r = route('v6', { upstreams: [{ host: '2001:db8::1', port: 443 }, { host: '::1', port: 8080 }] });
    const handler = routeFor(buildCaddyConfig([r], opts).config, 'v6.example.com').route.handle[0];
    expect(handler?.upstreams).toEqual([{ dial: '[2001:db8::1]:443' }, { dial: '[::1]:8080' }]);
  });

  it('keeps wildcard domains as-is in the host matcher', () => {
    const r = route('wild', { domains: ['*.example.com', 'example.com'] });
    const { config } = buildCaddyConfig([r], { ...opts, hostRouting: 'per-route' });
    expect(servers(config).srv_https?.routes[0]?.match).toEqual([{ host: ['*.example.com', 'example.com'] }]);
  });

  it('does not configure anything special for WebSockets (Caddy proxies upgrades natively)', () => {
    const handler = routeFor(buildCaddyConfig([route('ws')], opts).config, 'ws.example.com').route.handle[0];
    expect(Object.keys(handler ?? {})).toEqual(['handler', 'upstreams']);
  });
});

describe('buildCaddyConfig: redirect routes', () => {
  const locationOf = (r: Route) => routeFor(buildCaddyConfig([r], opts).config, r.domains[0]!).route.handle[0];

  it.each([301, 302, 307, 308] as const)('renders status %i with a Location header', (status) => {
    expect(locationOf(redirect('r', 'https://target.example.org/landing', status, false))).toEqual({
      handler: 'static_response',
      status_code: status,
      headers: { Location: ['https://target.example.org/landing'] },
    });
  });

  it('appends the request URI when preservePath is true', () => {
    expect(locationOf(redirect('r', 'https://target.example.org/base', 301, true))?.headers).toEqual({
      Location: ['https://target.example.org/base{http.request.uri}'],
    });
  });

  it('strips trailing slashes from the target before appending the request URI', () => {
    expect(locationOf(redirect('r', 'https://target.example.org/', 308, true))?.headers).toEqual({
      Location: ['https://target.example.org{http.request.uri}'],
    });
    expect(locationOf(redirect('r', 'https://target.example.org/docs//', 302, true))?.headers).toEqual({
      Location: ['https://target.example.org/docs{http.request.uri}'],
    });
  });

  it('keeps the target verbatim (trailing slash included) when preservePath is false', () => {
    expect(locationOf(redirect('r', 'https://target.example.org/', 301, false))?.headers).toEqual({
      Location: ['https://target.example.org/'],
    });
  });

  it('reports a redirect route without a target instead of rendering it', () => {
    const { unsupported, served } = buildCaddyConfig([route('broken', { kind: 'redirect', redirect: null })], opts);
    expect(served).toBe(0);
    expect(unsupported).toEqual([{ routeId: 'broken', reason: 'redirect route has no redirect target' }]);
  });
});

describe('buildCaddyConfig: dead routes and catch-all', () => {
  it('renders dead hosts as a 404 with a small HTML body', () => {
    const { route: r } = routeFor(buildCaddyConfig([route('gone', { kind: 'dead', upstreams: [] })], opts).config, 'gone.example.com');
    const handler = r.handle[0];
    expect(handler).toMatchObject({ handler: 'static_response', status_code: 404, headers: { 'Content-Type': ['text/html; charset=utf-8'] } });
    expect(String(handler?.body)).toMatch(/^<!DOCTYPE html>.*404 Not Found/);
    expect(String(handler?.body).length).toBeLessThan(1024);
  });

  it('ends every rendered server with exactly one catch-all 404', () => {
    const { config } = buildCaddyConfig([route('a', { tls: 'off' }), route('b', { tls: 'auto' }), route('c', { tls: 'internal' })], { ...opts, hostRouting: 'per-route' });
    expect(Object.keys(servers(config))).toEqual(['srv_http', 'srv_https']);
    for (const srv of Object.values(servers(config))) expectCatchAllLast(srv.routes);
    expect(servers(config).srv_http?.routes).toHaveLength(2);
    expect(servers(config).srv_https?.routes).toHaveLength(3);
  });
});

describe('buildCaddyConfig: TLS modes', () => {
  it("puts tls 'auto' routes on the HTTPS server and leaves certificates to Caddy's defaults (ACME)", () => {
    const { config } = buildCaddyConfig([route('a')], opts);
    expect(routeFor(config, 'a.example.com').server).toBe('srv_https');
    expect(servers(config).srv_https?.listen).toEqual([':443']);
    expect(servers(config).srv_https).not.toHaveProperty('automatic_https');
    expect(config.apps).not.toHaveProperty('tls');
    expect(config.apps.pki).toEqual({ certificate_authorities: { local: { install_trust: false } } });
  });

  it("gives tls 'internal' subjects an automation policy with the internal issuer only", () => {
    const { config } = buildCaddyConfig(
      [route('b', { tls: 'internal', domains: ['b.test', '*.b.test'] }), route('a', { tls: 'internal', domains: ['a.test'] }), route('c')],
      opts,
    );
    expect(routeFor(config, 'a.test').server).toBe('srv_https');
    expect(routeFor(config, '*.b.test').server).toBe('srv_https');
    expect(config.apps.tls).toEqual({
      automation: { policies: [{ subjects: ['*.b.test', 'a.test', 'b.test'], issuers: [{ module: 'internal' }] }] },
    });
    // The 'auto' route's host is not in the internal policy.
    expect(config.apps.tls?.automation.policies[0]?.subjects).not.toContain('c.example.com');
    expect(config.apps.pki?.certificate_authorities.local.install_trust).toBe(false);
  });

  it("serves tls 'off' routes only on the HTTP server, which has automatic HTTPS disabled", () => {
    const { config } = buildCaddyConfig([route('plain', { tls: 'off' })], opts);
    expect(routeFor(config, 'plain.example.com').server).toBe('srv_http');
    expect(servers(config)).not.toHaveProperty('srv_https');
    expect(servers(config).srv_http?.automatic_https).toEqual({ disable: true });
    expect(config.apps).not.toHaveProperty('tls');
    expect(config.apps).not.toHaveProperty('pki');
  });

  it('applies the same TLS placement to redirect and dead routes', () => {
    const { config } = buildCaddyConfig(
      [redirect('r1', 'https://x.example.org', 301, true, 'internal'), route('d1', { kind: 'dead', tls: 'off' })],
      opts,
    );
    expect(routeFor(config, 'r1.example.com').server).toBe('srv_https');
    expect(routeFor(config, 'd1.example.com').server).toBe('srv_http');
    expect(config.apps.tls?.automation.policies[0]?.subjects).toEqual(['r1.example.com']);
  });
});

describe('buildCaddyConfig: selection and determinism', () => {
  it('skips disabled routes', () => {
    const { config, served, unsupported } = buildCaddyConfig([route('on', { tls: 'off' }), route('off', { enabled: false, tls: 'off' })], opts);
    expect(served).toBe(1);
    expect(unsupported).toEqual([]);
    expect(JSON.stringify(config)).not.toContain('off.example.com');
    expect(servers(config).srv_http?.routes).toHaveLength(2);
  });

  it('does not report disabled stream routes as unsupported', () => {
    const { unsupported } = buildCaddyConfig([{ ...stream('s', 5432), enabled: false }], opts);
    expect(unsupported).toEqual([]);
  });

  it('orders routes by id and gives byte-identical JSON for any input order', () => {
    const routes = [route('c', { tls: 'off' }), route('a', { tls: 'off' }), route('B', { tls: 'off' }), route('b', { tls: 'internal' })];
    const first = JSON.stringify(buildCaddyConfig(routes, opts));
    const second = JSON.stringify(buildCaddyConfig([...routes].reverse(), opts));
    expect(second).toBe(first);
    const hosts = servers(buildCaddyConfig(routes, { ...opts, hostRouting: 'per-route' }).config).srv_http!.routes.map((r) => r.match?.[0]?.host[0]);
    expect(hosts).toEqual(['B.example.com', 'a.example.com', 'c.example.com', undefined]);
  });

  it('does not mutate its input', () => {
    const routes = [route('b'), route('a')];
    const before = JSON.stringify(routes);
    buildCaddyConfig(routes, opts);
    expect(JSON.stringify(routes)).toBe(before);
  });

  it('counts served routes across HTTP, HTTPS and layer4', () => {
    const { served } = buildCaddyConfig([route('a', { tls: 'off' }), route('b'), stream('s', 5432)], { ...opts, layer4: true });
    expect(served).toBe(3);
  });
});

describe('buildCaddyConfig: stream routes', () => {
  it('reports stream routes as unsupported without the layer4 module and renders no layer4 app', () => {
    const { config, served, unsupported } = buildCaddyConfig([stream('s2', 6000), stream('s1', 5432), route('p')], opts);
    expect(served).toBe(1);
    expect(config.apps).not.toHaveProperty('layer4');
    expect(unsupported).toEqual([
      { routeId: 's1', reason: NO_LAYER4_REASON },
      { routeId: 's2', reason: NO_LAYER4_REASON },
    ]);
    expect(NO_LAYER4_REASON).toBe('stream routes need the layer4 Caddy module, which this Caddy does not have');
  });

  it('renders one layer4 server per stream port with tcp and udp listeners and proxy upstreams', () => {
    const tcp = route('db', { kind: 'stream', domains: [], listen: { port: 5432, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.19', port: 5432 }, { host: 'fd00::9', port: 5433 }], tls: 'off' });
    const udp = route('dns', { kind: 'stream', domains: [], listen: { port: 5353, protocol: 'udp' }, upstreams: [{ host: '127.0.0.53', port: 53 }], tls: 'off' });
    const { config, unsupported, served } = buildCaddyConfig([tcp, udp], { ...opts, layer4: true });
    expect(unsupported).toEqual([]);
    expect(served).toBe(2);
    expect(config.apps.layer4).toEqual({
      servers: {
        stream_udp_5353: { listen: ['udp/:5353'], routes: [{ handle: [{ handler: 'proxy', upstreams: [{ dial: ['udp/127.0.0.53:53'] }] }] }] },
        stream_tcp_5432: {
          listen: ['tcp/:5432'],
          routes: [
            {
              handle: [
                {
                  handler: 'proxy',
                  upstreams: [{ dial: ['127.0.0.19:5432'] }, { dial: ['[fd00::9]:5433'] }],
                  load_balancing: { selection: { policy: 'round_robin' } },
                },
              ],
            },
          ],
        },
      },
    });
  });

  it('binds stream listeners to the host of httpListen', () => {
    const { config } = buildCaddyConfig([stream('s', 5432)], { ...opts, layer4: true, httpListen: '127.0.0.2:18080', httpsListen: '127.0.0.2:18443' });
    expect(config.apps.layer4?.servers.stream_tcp_5432?.listen).toEqual(['tcp/127.0.0.2:5432']);
    const v6 = buildCaddyConfig([stream('s', 5432, 'udp')], { ...opts, layer4: true, httpListen: '[::1]:8080', httpsListen: '[::1]:8443' });
    expect(v6.config.apps.layer4?.servers.stream_udp_5432?.listen).toEqual(['udp/[::1]:5432']);
  });

  it('reports stream routes whose port is already taken instead of breaking the whole config', () => {
    const routes = [stream('a', 5432), stream('b', 5432), stream('c', 5432, 'udp'), stream('d', 80), stream('e', 443, 'udp'), stream('f', 2019)];
    const { config, unsupported, served } = buildCaddyConfig(routes, { ...opts, layer4: true, adminListen: '127.0.0.1:2019' });
    expect(served).toBe(2);
    expect(Object.keys(config.apps.layer4?.servers ?? {})).toEqual(['stream_tcp_5432', 'stream_udp_5432']);
    expect(unsupported).toEqual([
      { routeId: 'b', reason: 'tcp port 5432 is already used by route a' },
      { routeId: 'd', reason: 'tcp port 80 is already used by the HTTP server' },
      { routeId: 'e', reason: 'udp port 443 is already used by HTTP/3 on the HTTPS server' },
      { routeId: 'f', reason: 'tcp port 2019 is already used by the Caddy admin API' },
    ]);
  });

  it('routes several streams on one tcp port by TLS server name, in route id order', () => {
    const sni = (id: string, names: string[], extra: Partial<Route> = {}) => route(id, { ...stream(id, 8443), sni: names, ...extra });
    const { config, unsupported, served } = buildCaddyConfig(
      [sni('b', ['b.example.com']), sni('a', ['a.example.com', '*.a.example.com'], { proxyProtocol: 'v2' })],
      { ...opts, layer4: true },
    );
    expect(unsupported).toEqual([]);
    expect(served).toBe(2);
    expect(config.apps.layer4).toEqual({
      servers: {
        stream_tcp_8443: {
          listen: ['tcp/:8443'],
          routes: [
            {
              match: [{ tls: { sni: ['a.example.com', '*.a.example.com'] } }],
              handle: [{ handler: 'proxy', upstreams: [{ dial: ['127.0.0.19:5432'] }], proxy_protocol: 'v2' }],
            },
            { match: [{ tls: { sni: ['b.example.com'] } }], handle: [{ handler: 'proxy', upstreams: [{ dial: ['127.0.0.19:5432'] }] }] },
          ],
        },
      },
    });
  });

  it('sends a PROXY protocol header when asked, and not otherwise', () => {
    const { config } = buildCaddyConfig([route('p1', { ...stream('p1', 7000), proxyProtocol: 'v1' }), stream('p0', 7001)], { ...opts, layer4: true });
    expect(config.apps.layer4?.servers.stream_tcp_7000?.routes[0]?.handle[0]?.proxy_protocol).toBe('v1');
    expect(config.apps.layer4?.servers.stream_tcp_7001?.routes[0]?.handle[0]).not.toHaveProperty('proxy_protocol');
  });

  it('reports a stream that repeats a server name, or takes a port that streams share by name, or the reverse', () => {
    const named = (id: string, port: number, names: string[]) => route(id, { ...stream(id, port), sni: names });
    const routes = [named('a', 9000, ['x.test']), named('b', 9000, ['y.test', 'x.test']), stream('c', 9000), stream('d', 9001), named('e', 9001, ['z.test'])];
    const { config, unsupported, served } = buildCaddyConfig(routes, { ...opts, layer4: true });
    expect(served).toBe(2);
    expect(Object.keys(config.apps.layer4?.servers ?? {})).toEqual(['stream_tcp_9000', 'stream_tcp_9001']);
    expect(unsupported).toEqual([
      { routeId: 'b', reason: 'server name x.test on tcp port 9000 is already used by route a' },
      { routeId: 'c', reason: 'tcp port 9000 is already used by route a (routed by server name)' },
      { routeId: 'e', reason: 'tcp port 9001 is already used by route d' },
    ]);
  });

  it('ignores server names on udp streams (the API refuses them)', () => {
    const { config } = buildCaddyConfig([route('u', { ...stream('u', 5300, 'udp'), sni: ['x.test'] })], { ...opts, layer4: true });
    expect(config.apps.layer4?.servers.stream_udp_5300?.routes[0]).not.toHaveProperty('match');
  });

  it('omits the layer4 app when layer4 is available but no stream route is rendered', () => {
    expect(buildCaddyConfig([route('p')], { ...opts, layer4: true }).config.apps).not.toHaveProperty('layer4');
  });
});

describe('buildCaddyConfig: proxy host options', () => {
  it('serves a TLS host on the HTTP server too when force HTTPS is off, before the catch-all', () => {
    const { config } = buildCaddyConfig([route('both', { tls: 'internal', options: { forceHttps: false } }), route('forced', { tls: 'internal' })], opts);
    const plain = servers(config).srv_http!.routes;
    expect(plain.map((r) => r.match?.[0]?.host ?? null)).toEqual([['both.example.com'], null]);
    expect(servers(config).srv_https!.routes.map((r) => r.match?.[0]?.host ?? null)).toEqual([['both.example.com'], ['forced.example.com'], null]);
  });
});

describe('buildCaddyConfig: defensive checks', () => {
  it('reports HTTP routes without domains or upstreams', () => {
    const { unsupported, served } = buildCaddyConfig([route('nodomain', { domains: [] }), route('noup', { upstreams: [] })], opts);
    expect(served).toBe(0);
    expect(unsupported).toEqual([
      { routeId: 'nodomain', reason: 'proxy route has no domains' },
      { routeId: 'noup', reason: 'proxy route has no upstreams' },
    ]);
  });
});
