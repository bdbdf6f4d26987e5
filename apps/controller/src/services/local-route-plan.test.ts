import { describe, expect, it } from 'vitest';
import type { RouteTable } from '../db/schema';
import type { LocalRoute } from './local-route-service';
import { planLocalRoutes, type Holder, type PlanInput, type StoredLocal } from './local-route-plan';

const route = (id: string, domains: string[], extra: Partial<LocalRoute> = {}): LocalRoute =>
  ({ id, kind: 'dead', nodeId: null, scope: 'local_only', enabled: true, domains, tls: 'off', ...extra }) as LocalRoute;

const base = (routes: LocalRoute[], stored: StoredLocal[] = [], central: [string, Holder][] = []): PlanInput => ({
  nodeId: 'n1',
  siteId: 's1',
  now: '2030-01-01T00:00:00.000Z',
  routes,
  stored,
  centralDomains: new Map(central),
  centralListens: new Map(),
});

/** What planning `routes` and then writing the plan leaves stored, as the next frame sees it. */
function storedAfter(input: PlanInput): StoredLocal[] {
  const plan = planLocalRoutes(input);
  const kept = input.stored.filter((s) => !plan.remove.includes(s.row.id));
  return [...kept, ...plan.write.map((w) => ({ row: w.row as RouteTable, index: w.index }))];
}

describe('planLocalRoutes', () => {
  it('creates new routes and indexes their domains', () => {
    const plan = planLocalRoutes(base([route('a', ['a.test']), route('b', ['b.test'])]));
    expect(plan.created).toEqual(['n1-a', 'n1-b']);
    expect(plan.write.map((w) => w.index.domains)).toEqual([['a.test'], ['b.test']]);
    expect(plan.remove).toEqual([]);
  });

  it('writes nothing for the same routes again', () => {
    const first = base([route('a', ['a.test']), route('b', ['b.test'])]);
    const again = planLocalRoutes({ ...first, stored: storedAfter(first), now: '2030-01-02T00:00:00.000Z' });
    expect(again).toMatchObject({ write: [], remove: [], created: [], updated: [], deleted: [] });
  });

  it('rewrites only what changed and removes what is gone', () => {
    const first = base([route('a', ['a.test']), route('b', ['b.test']), route('c', ['c.test'])]);
    const next = planLocalRoutes({ ...first, stored: storedAfter(first), routes: [route('a', ['a.test']), route('b', ['b2.test'])], now: '2030-01-02T00:00:00.000Z' });
    expect(next.updated).toEqual(['n1-b']);
    expect(next.deleted).toEqual(['n1-c']);
    expect(next.remove.sort()).toEqual(['n1-b', 'n1-c']);
    expect(next.write.map((w) => [w.row.id, w.row.created_at, w.row.updated_at])).toEqual([['n1-b', '2030-01-01T00:00:00.000Z', '2030-01-02T00:00:00.000Z']]);
  });

  it('a domain held by an enabled central route is a conflict, a disabled holder only keeps the index', () => {
    const plan = planLocalRoutes(
      base([route('a', ['taken.test']), route('b', ['parked.test'])], [], [
        ['taken.test', { routeId: 'rt_1', enabled: true }],
        ['parked.test', { routeId: 'rt_2', enabled: false }],
      ]),
    );
    expect(plan.conflicts).toBe(1);
    expect(plan.write.map((w) => [w.row.last_error, w.index.domains])).toEqual([
      ['domain taken.test conflicts with route rt_1', []],
      [null, []],
    ]);
  });

  it('an earlier local route of the same frame holds its domain against a later one', () => {
    const plan = planLocalRoutes(base([route('a', ['dup.test']), route('b', ['dup.test']), route('a', ['other.test'])]));
    expect(plan.write.map((w) => [w.row.id, w.row.last_error, w.index.domains])).toEqual([
      ['n1-a', null, ['dup.test']],
      ['n1-b', 'domain dup.test conflicts with route n1-a', []],
    ]);
  });

  it('a problem that clears is written but is not a content change', () => {
    const first = base([route('a', ['x.test'])], [], [['x.test', { routeId: 'rt_1', enabled: true }]]);
    const next = planLocalRoutes({ ...first, stored: storedAfter(first), centralDomains: new Map() });
    expect(next.write.map((w) => [w.row.last_error, w.index.domains])).toEqual([[null, ['x.test']]]);
    expect(next).toMatchObject({ created: [], updated: [], deleted: [] });
  });
});
