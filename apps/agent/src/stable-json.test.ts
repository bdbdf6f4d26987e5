import { describe, expect, it } from 'vitest';
import { sameJson, stableStringify } from './stable-json';

describe('stableStringify', () => {
  it('ignores key order at every depth but keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(sameJson({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: undefined }, {})).toBe(true);
    expect(sameJson({ a: 1 }, { a: '1' })).toBe(false);
  });
});
