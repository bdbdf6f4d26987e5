import { describe, expect, it } from 'vitest';
import { FailureLimiter } from './rate-limiter';

describe('FailureLimiter', () => {
  it('blocks after max failures within the window and releases after it', () => {
    const l = new FailureLimiter(3, 10_000);
    l.fail('k', 0);
    l.fail('k', 1000);
    expect(l.blockedFor('k', 1500)).toBe(0);
    l.fail('k', 2000);
    expect(l.blockedFor('k', 2000)).toBe(8);
    expect(l.blockedFor('k', 10_001)).toBe(0);
    expect(l.blockedFor('other', 2000)).toBe(0);
  });
  it('reset clears a key', () => {
    const l = new FailureLimiter(1, 10_000);
    l.fail('k', 0);
    expect(l.blockedFor('k', 1)).toBeGreaterThan(0);
    l.reset('k');
    expect(l.blockedFor('k', 1)).toBe(0);
  });
  it('bounds the number of keys it remembers', () => {
    const l = new FailureLimiter(1, 10_000, 10);
    for (let i = 0; i < 100; i++) l.fail(`k${i}`, 0);
    expect(l.blockedFor('k99', 1)).toBeGreaterThan(0);
    expect(l.blockedFor('k0', 1)).toBe(0);
  });
});
