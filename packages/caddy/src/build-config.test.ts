/** buildCaddyConfig as a whole: the top-level config, which routes are rendered and in what order, and what it refuses. */
import { describe, it, expect } from 'vitest';
import { buildCaddyConfig } from './build-config';
import { expectCatchAllLast, opts, route, servers, stream } from '../test-support/build-fixtures';

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
