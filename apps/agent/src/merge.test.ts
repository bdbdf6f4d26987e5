import { describe, expect, it } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { localDuplicate, localToRoute, mergeRoutes } from './merge';
import type { StoredLocalRoute } from './state';

const at = '2026-01-01T00:00:00.000Z';

function central(id: string, fields: Partial<Route> = {}): Route {
  return {
    id,
    kind: 'proxy',
    domains: [`${id}.test`],
    listen: null,
    upstreams: [{ host: '127.0.0.1', port: 9000 }],
    redirect: null,
    nodeId: 'node_1',
    siteId: 'site_1',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: 'off',
    createdAt: at,
    updatedAt: at,
    revision: 1,
    lastError: null,
    ...fields,
  };
}

function local(id: string, domains: string[], fields: Partial<StoredLocalRoute> = {}): StoredLocalRoute {
  return {
    id,
    kind: 'proxy',
    nodeId: null,
    scope: 'local_only',
    enabled: true,
    domains,
    upstreams: [{ host: '127.0.0.1', port: 9100 }],
    tls: 'off',
    createdAt: at,
    updatedAt: at,
    ...fields,
  } as StoredLocalRoute;
}

function localStream(id: string, port: number, protocol: 'tcp' | 'udp' = 'tcp'): StoredLocalRoute {
  return {
    id,
    kind: 'stream',
    nodeId: null,
    scope: 'local_only',
    enabled: true,
    listen: { port, protocol },
    upstreams: [{ host: '127.0.0.1', port: 5432 }],
    tls: 'off',
    createdAt: at,
    updatedAt: at,
  };
}

describe('mergeRoutes', () => {
  it('keeps every central route and adds non-colliding local ones as local_only/local', () => {
    const { routes, conflicts } = mergeRoutes([central('c1')], [local('loc_a', ['a.test'])], 'node_1');
    expect(conflicts).toEqual([]);
    expect(routes.map((r) => r.id)).toEqual(['c1', 'loc_a']);
    expect(routes[1]).toMatchObject({ scope: 'local_only', origin: 'local', nodeId: 'node_1', domains: ['a.test'], listen: null, redirect: null });
  });

  it('central routes win a domain: the local route is left out and reported', () => {
    const { routes, conflicts } = mergeRoutes(
      [central('c1', { domains: ['shop.test', 'www.shop.test'] })],
      [local('loc_b', ['other.test', 'www.shop.test']), local('loc_a', ['fine.test'])],
      'node_1',
    );
    expect(routes.map((r) => r.id)).toEqual(['c1', 'loc_a']);
    expect(conflicts).toEqual([{ routeId: 'loc_b', error: 'domain www.shop.test conflicts with central route c1' }]);
  });

  it('a disabled central route blocks nothing; a disabled local route is never a conflict', () => {
    const { routes, conflicts } = mergeRoutes(
      [central('c1', { domains: ['x.test'], enabled: false })],
      [local('loc_a', ['x.test']), local('loc_b', ['c2.test'], { enabled: false })],
      null,
    );
    expect(conflicts).toEqual([]);
    expect(routes.map((r) => r.id)).toEqual(['c1', 'loc_a', 'loc_b']);
  });

  it('stream routes collide on port and protocol only', () => {
    const streams = [central('s1', { kind: 'stream', domains: [], listen: { port: 5432, protocol: 'tcp' } })];
    const { routes, conflicts } = mergeRoutes(streams, [localStream('loc_t', 5432), localStream('loc_u', 5432, 'udp')], 'node_1');
    expect(conflicts).toEqual([{ routeId: 'loc_t', error: 'tcp port 5432 conflicts with central route s1' }]);
    expect(routes.map((r) => r.id)).toEqual(['s1', 'loc_u']);
    expect(routes[1]).toMatchObject({ kind: 'stream', domains: [], listen: { port: 5432, protocol: 'udp' } });
  });

  it('fills redirect routes for the builder', () => {
    const r = localToRoute(
      { ...local('loc_r', ['r.test']), kind: 'redirect', redirect: { to: 'https://x.test', status: 301, preservePath: true } } as StoredLocalRoute,
      'node_1',
    );
    expect(r).toMatchObject({ kind: 'redirect', redirect: { to: 'https://x.test', status: 301, preservePath: true }, upstreams: [] });
  });
});

describe('localDuplicate', () => {
  it('finds a domain or stream port already used by another local route', () => {
    const existing = [local('loc_a', ['a.test']), localStream('loc_s', 7000)];
    expect(localDuplicate(local('loc_new', ['b.test', 'a.test']), existing)).toBe('domain a.test is already used by local route loc_a');
    expect(localDuplicate(localStream('loc_new', 7000), existing)).toBe('tcp port 7000 is already used by local route loc_s');
    expect(localDuplicate(localStream('loc_new', 7000, 'udp'), existing)).toBeNull();
    expect(localDuplicate(local('loc_new', ['c.test']), existing)).toBeNull();
  });
});
