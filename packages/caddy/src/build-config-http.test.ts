/** buildCaddyConfig for HTTP routes: proxy, redirect and dead hosts, the catch-all, and which server each TLS mode puts them on. */
import { describe, it, expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig } from './build-config';
import { expectCatchAllLast, opts, redirect, route, routeFor, servers } from '../test-support/build-fixtures';

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

describe('buildCaddyConfig: proxy host options', () => {
  it('serves a TLS host on the HTTP server too when force HTTPS is off, before the catch-all', () => {
    const { config } = buildCaddyConfig([route('both', { tls: 'internal', options: { forceHttps: false } }), route('forced', { tls: 'internal' })], opts);
    const plain = servers(config).srv_http!.routes;
    expect(plain.map((r) => r.match?.[0]?.host ?? null)).toEqual([['both.example.com'], null]);
    expect(servers(config).srv_https!.routes.map((r) => r.match?.[0]?.host ?? null)).toEqual([['both.example.com'], ['forced.example.com'], null]);
  });
});
