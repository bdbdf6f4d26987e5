import { describe, expect, it } from 'vitest';
import { dockerRouteId, type Route, type SourcedDockerEntry } from '@caddyfleet/protocol';
import { mergeRoutes } from '../merge';
import type { StoredLocalRoute } from '../state';

const at = '2026-01-01T00:00:00.000Z';

const central = (id: string, domain: string, enabled = true): Route => ({
  id,
  kind: 'dead',
  domains: [domain],
  listen: null,
  upstreams: [],
  redirect: null,
  nodeId: 'n1',
  siteId: 's',
  scope: 'exclusive',
  origin: 'central',
  enabled,
  tls: 'off',
  createdAt: at,
  updatedAt: at,
  revision: 1,
  lastError: null,
});

const local = (id: string, domain: string): StoredLocalRoute => ({
  id,
  kind: 'dead',
  nodeId: null,
  scope: 'local_only',
  enabled: true,
  domains: [domain],
  tls: 'off',
  createdAt: at,
  updatedAt: at,
});

const docker = (name: string, domain: string, host: string): SourcedDockerEntry => ({
  key: `${name}/caddy`,
  containerId: 'abcdef012345',
  containerName: name,
  state: 'running',
  label: 'caddy',
  node: null,
  local: true,
  kind: 'proxy',
  domains: [domain],
  upstreams: [{ host, port: 80 }],
  redirect: null,
  tls: 'off',
  error: null,
  warning: null,
  sourceNodeId: 'n1',
  sourceNodeName: 'host-1',
});

describe('mergeRoutes with Docker routes', () => {
  it('renders Docker routes as origin docker, one route per domain set with every upstream', () => {
    const { routes, conflicts } = mergeRoutes([], [], 'n1', [docker('a', 'app.test', '10.200.0.2'), docker('b', 'app.test', '10.200.0.3')]);
    expect(conflicts).toEqual([]);
    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({
      id: dockerRouteId('n1', ['app.test']),
      origin: 'docker',
      scope: 'local_only',
      upstreams: [{ host: '10.200.0.2', port: 80 }, { host: '10.200.0.3', port: 80 }],
      source: { containerName: 'a' },
    });
    expect(routes[0]!.sources!.map((s) => s.containerName)).toEqual(['a', 'b']);
  });

  it('lets central and local routes win a domain, and says so', () => {
    const { routes, conflicts } = mergeRoutes([central('rt_1', 'c.test')], [local('loc_1', 'l.test')], 'n1', [
      docker('a', 'c.test', '10.200.0.2'),
      docker('b', 'l.test', '10.200.0.3'),
      docker('c', 'free.test', '10.200.0.4'),
    ]);
    expect(routes.map((r) => r.id)).toEqual(['rt_1', 'loc_1', dockerRouteId('n1', ['free.test'])]);
    expect(conflicts.map((c) => c.error).sort()).toEqual([
      expect.stringMatching(/domain c.test is served by central route rt_1; central and local routes win over Docker labels/),
      expect.stringMatching(/domain l.test is served by local route loc_1/),
    ]);
  });

  it('does not let a disabled central route block a Docker route', () => {
    const { routes, conflicts } = mergeRoutes([central('rt_1', 'c.test', false)], [], 'n1', [docker('a', 'c.test', '10.200.0.2')]);
    expect(conflicts).toEqual([]);
    expect(routes.filter((r) => r.origin === 'docker')).toHaveLength(1);
  });
});
