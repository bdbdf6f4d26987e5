import { describe, expect, it } from 'vitest';
import { nodeSync, routeServing } from './sync-state';

const seen = '2026-12-01T00:00:00.000Z';
const node = (over: Partial<{ appliedRevision: number; desiredRevision: number; lastSeenAt: string | null; status: 'online' | 'offline' | 'pending' | 'error' | 'provisioning' }> = {}) => ({
  name: 'edge-1',
  appliedRevision: 3,
  desiredRevision: 3,
  lastSeenAt: seen,
  status: 'online' as const,
  ...over,
});
const route = (over: Partial<{ enabled: boolean; revision: number; lastError: string | null }> = {}) => ({ enabled: true, revision: 3, lastError: null, ...over });

describe('nodeSync', () => {
  it('a node that never connected is never "in sync", even at revision 0/0', () => {
    expect(nodeSync(node({ appliedRevision: 0, desiredRevision: 0, lastSeenAt: null }))).toBe('never_connected');
  });
  it('compares revisions once the node has been seen', () => {
    expect(nodeSync(node())).toBe('in_sync');
    expect(nodeSync(node({ appliedRevision: 2 }))).toBe('behind');
  });
});

describe('routeServing', () => {
  it('says so when the node never connected', () => {
    const s = routeServing(route({ revision: 1 }), node({ appliedRevision: 0, desiredRevision: 1, lastSeenAt: null, status: 'pending' }));
    expect(s.state).toBe('never_connected');
    expect(s.text).toContain('edge-1 has never connected');
  });
  it('served once the node applied the route revision', () => {
    expect(routeServing(route(), node()).state).toBe('served');
    expect(routeServing(route(), node({ status: 'offline' })).text).toContain('edge-1 is offline');
  });
  it('pending while an online node has not applied it, waiting while offline', () => {
    expect(routeServing(route({ revision: 4 }), node()).state).toBe('pending');
    expect(routeServing(route({ revision: 4 }), node({ status: 'offline' })).state).toBe('node_offline');
  });
  it('a route problem and a disabled route are not "served"', () => {
    expect(routeServing(route({ lastError: 'conflict' }), node()).text).toBe('not served: conflict');
    expect(routeServing(route({ enabled: false }), node()).state).toBe('disabled');
    expect(routeServing(route(), undefined).state).toBe('unknown_node');
  });
});
