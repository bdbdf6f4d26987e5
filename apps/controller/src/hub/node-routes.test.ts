import { describe, expect, it } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { NodeRoutes } from './node-routes';

const route = (id: string, port = 80): Route => ({
  id,
  kind: 'proxy',
  domains: [`${id}.test`],
  listen: null,
  upstreams: [{ host: '127.0.0.1', port }],
  redirect: null,
  nodeId: 'n1',
  siteId: 's1',
  scope: 'exclusive',
  origin: 'central',
  enabled: true,
  tls: 'off',
  createdAt: 't',
  updatedAt: 't',
  revision: 1,
  lastError: null,
});

describe('NodeRoutes', () => {
  it('applies changes in revision order, holding the ones that arrive early', () => {
    const n = new NodeRoutes(2, [route('a'), route('b')]);
    n.apply({ nodeId: 'n1', revision: 4, remove: 'a' });
    expect(n.revision).toBe(2);
    expect(n.known).toBe(4);
    expect(n.gapSince).toBeGreaterThan(0);
    n.apply({ nodeId: 'n1', revision: 3, upsert: route('c') });
    expect(n.revision).toBe(4);
    expect(n.gapSince).toBe(0);
    expect(n.list().map((r) => r.id)).toEqual(['b', 'c']);
    // Already included (the read that filled the cache saw it): ignored.
    n.apply({ nodeId: 'n1', revision: 3, remove: 'b' });
    expect(n.size).toBe(2);
  });

  it('builds the full sync and deltas as JSON the protocol accepts, sorted by id', () => {
    const n = new NodeRoutes(1, [route('b'), route('a')]);
    n.apply({ nodeId: 'n1', revision: 2, upsert: route('c') });
    n.apply({ nodeId: 'n1', revision: 3, upsert: route('a', 81) });
    n.apply({ nodeId: 'n1', revision: 4, remove: 'b' });
    expect(JSON.parse(n.syncFrame())).toEqual({ type: 'sync', revision: 4, routes: [route('a', 81), route('c')] });
    const delta = JSON.parse(n.deltaFrame(2, 100)!);
    expect(delta).toMatchObject({ type: 'delta', base: 2, revision: 4, remove: ['b'] });
    expect(delta.upsert).toEqual([route('a', 81)]);
    expect(JSON.parse(n.deltaFrame(1, 100)!).upsert).toHaveLength(2);
  });

  it('keeps the full sync frame only until the next change', () => {
    const n = new NodeRoutes(1, [route('a')]);
    expect(n.syncFrame()).toBe(n.syncFrame());
    n.apply({ nodeId: 'n1', revision: 2, upsert: route('a', 99) });
    expect(JSON.parse(n.syncFrame())).toEqual({ type: 'sync', revision: 2, routes: [route('a', 99)] });
    n.apply({ nodeId: 'n1', revision: 3, upsert: route('0') });
    expect(JSON.parse(n.syncFrame()).routes.map((r: Route) => r.id)).toEqual(['0', 'a']);
    n.apply({ nodeId: 'n1', revision: 4, remove: '0' });
    expect(JSON.parse(n.syncFrame()).routes.map((r: Route) => r.id)).toEqual(['a']);
  });

  it('gives no delta when the changes are forgotten, too many, or nothing changed', () => {
    const n = new NodeRoutes(10, [route('a'), route('b'), route('c')]);
    expect(n.deltaFrame(9, 100), 'before what the cache knows').toBeNull();
    expect(n.deltaFrame(10, 100), 'nothing to send').toBeNull();
    n.apply({ nodeId: 'n1', revision: 11, upsert: route('d') });
    n.apply({ nodeId: 'n1', revision: 12, upsert: route('e') });
    expect(n.deltaFrame(10, 1), 'over the entry limit').toBeNull();
    expect(n.deltaFrame(10, 100)).not.toBeNull();
    n.trim(11);
    expect(n.deltaFrame(10, 100), 'trimmed away').toBeNull();
    expect(JSON.parse(n.deltaFrame(11, 100)!).upsert.map((r: Route) => r.id)).toEqual(['e']);
  });

  it('prefers a full sync when most routes changed', () => {
    const n = new NodeRoutes(0, []);
    for (let i = 1; i <= 200; i++) n.apply({ nodeId: 'n1', revision: i, upsert: route(`r${i}`) });
    expect(n.deltaFrame(0, 10_000)).toBeNull();
    expect(n.deltaFrame(190, 10_000)).not.toBeNull();
  });
});
