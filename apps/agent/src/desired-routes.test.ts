import { describe, expect, it } from 'vitest';
import { makeRoute } from '../test-support/fixtures';
import { DesiredRoutes } from './desired-routes';

describe('DesiredRoutes', () => {
  it('applies deltas in order on top of a full state', () => {
    const d = new DesiredRoutes();
    d.reset(3, [makeRoute('a'), makeRoute('b')]);
    expect(d.apply({ type: 'delta', base: 3, revision: 5, upsert: [makeRoute('c'), { ...makeRoute('a'), enabled: false }], remove: ['b'] })).toBe(true);
    expect(d.revision).toBe(5);
    const list = d.list();
    expect(list.map((r) => r.id).sort()).toEqual(['a', 'c']);
    expect(list.find((r) => r.id === 'a')!.enabled).toBe(false);
  });

  it('refuses a delta from another base and changes nothing', () => {
    const d = new DesiredRoutes();
    d.reset(3, [makeRoute('a')]);
    expect(d.apply({ type: 'delta', base: 2, revision: 4, upsert: [makeRoute('x')], remove: ['a'] })).toBe(false);
    expect(d.revision).toBe(3);
    expect(d.list().map((r) => r.id)).toEqual(['a']);
  });

  it('hands out snapshots that later deltas do not change', () => {
    const d = new DesiredRoutes();
    d.reset(1, [makeRoute('a')]);
    const before = d.list();
    d.apply({ type: 'delta', base: 1, revision: 2, upsert: [], remove: ['a'] });
    expect(before.map((r) => r.id)).toEqual(['a']);
    expect(d.list()).toEqual([]);
  });
});
