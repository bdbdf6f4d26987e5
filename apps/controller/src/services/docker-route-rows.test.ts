import { describe, expect, it } from 'vitest';
import { dockerRouteId, type DockerEntry } from '@caddyfleet/protocol';
import type { RouteTable } from '../db/schema';
import { dockerRouteRows, resolveNodeLabel, type SourceNode } from './docker-route-rows';

const nodes = [
  { id: 'node_a', name: 'edge' },
  { id: 'node_b', name: 'Builder' },
  { id: 'node_c', name: 'twin' },
  { id: 'node_d', name: 'twin' },
];

describe('resolveNodeLabel', () => {
  it('finds a node by id, by name, then by name in any case', () => {
    expect(resolveNodeLabel('node_c', nodes)).toEqual({ id: 'node_c' });
    expect(resolveNodeLabel('edge', nodes)).toEqual({ id: 'node_a' });
    expect(resolveNodeLabel('builder', nodes)).toEqual({ id: 'node_b' });
  });

  it('says when a name is ambiguous or unknown', () => {
    expect(resolveNodeLabel('twin', nodes)).toEqual({ error: 'caddyfleet.node=twin matches 2 nodes; use the node id instead' });
    expect(resolveNodeLabel('nope', nodes)).toEqual({ error: 'caddyfleet.node=nope: no node of this organization has that name or id' });
  });
});

const entry = (name: string, host: string, over: Partial<DockerEntry> = {}): DockerEntry => ({
  key: `${name}/caddy`,
  containerId: 'abcdef012345',
  containerName: name,
  state: 'running',
  label: 'caddy',
  node: null,
  local: true,
  kind: 'proxy',
  domains: ['app.test'],
  upstreams: [{ host, port: 80 }],
  redirect: null,
  tls: 'auto',
  error: null,
  warning: null,
  ...over,
});

const now = '2026-01-02T00:00:00.000Z';
const sources = new Map<string, SourceNode>([
  ['local', { name: 'local', stale: false, offlineSince: null }],
  ['node_b', { name: 'host-b', stale: true, offlineSince: '2026-01-01T23:59:00.000Z' }],
]);

describe('dockerRouteRows', () => {
  const target = { id: 'local', siteId: 'site_1' };

  it('makes one read-only docker row per domain set, with its sources (the local node as null)', () => {
    const rows = dockerRouteRows(target, [{ sourceNodeId: 'local', entry: entry('web-1', '10.0.0.2') }, { sourceNodeId: 'node_b', entry: entry('web-2', '192.0.2.2', { local: false, node: 'local' }) }], sources, new Map(), new Map(), now);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ id: dockerRouteId('local', ['app.test']), node_id: 'local', scope: 'local_only', origin: 'docker', enabled: 1, created_at: now });
    expect(JSON.parse(row.spec).upstreams).toEqual([{ host: '10.0.0.2', port: 80 }, { host: '192.0.2.2', port: 80 }]);
    expect(JSON.parse(row.source!)).toEqual([
      { nodeId: null, nodeName: 'local', containerId: 'abcdef012345', containerName: 'web-1', state: 'running', stale: false },
      { nodeId: 'node_b', nodeName: 'host-b', containerId: 'abcdef012345', containerName: 'web-2', state: 'running', stale: true },
    ]);
    expect(row.last_error).toMatch(/stale: node host-b is offline \(last seen 2026-01-01T23:59:00.000Z\); it is still served/);
  });

  it('gives a domain held by a central or local route to that route and says so', () => {
    const held = new Map([['app.test', { id: 'rt_1', origin: 'central' }]]);
    const [row] = dockerRouteRows(target, [{ sourceNodeId: 'local', entry: entry('web-1', '10.0.0.2') }], sources, held, new Map(), now);
    expect(row!.last_error).toBe('domain app.test is served by central route rt_1; central and local routes win over Docker labels');
  });

  it('keeps the creation time, and the update time of a row that did not change', () => {
    const input = [{ sourceNodeId: 'local', entry: entry('web-1', '10.0.0.2') }];
    const [first] = dockerRouteRows(target, input, sources, new Map(), new Map(), '2026-01-01T00:00:00.000Z');
    const previous = new Map<string, RouteTable>([[first!.id, first!]]);
    const [same] = dockerRouteRows(target, input, sources, new Map(), previous, now);
    expect(same).toEqual(first);
    const [moved] = dockerRouteRows(target, [{ sourceNodeId: 'local', entry: entry('web-1', '10.0.0.3') }], sources, new Map(), previous, now);
    expect(moved).toMatchObject({ created_at: '2026-01-01T00:00:00.000Z', updated_at: now });
  });
});
