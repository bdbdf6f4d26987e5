import { describe, expect, it } from 'vitest';
import { BackoffLimiter, FailureLimiter, LoginThrottle } from './rate-limiter';

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

describe('BackoffLimiter', () => {
  it('lets the first failures through, then blocks for doubling periods capped at the window', () => {
    const l = new BackoffLimiter(3, 60_000, 1000);
    l.fail('k', 0);
    l.fail('k', 0);
    expect(l.blockedFor('k', 0)).toBe(0);
    l.fail('k', 0);
    expect(l.blockedFor('k', 0)).toBe(1);
    l.fail('k', 1000);
    expect(l.blockedFor('k', 1000)).toBe(2);
    l.fail('k', 3000);
    expect(l.blockedFor('k', 3000)).toBe(4);
    for (let t = 7000; t < 40_000; t += 1000) l.fail('k', t);
    expect(l.blockedFor('k', 40_000)).toBeLessThanOrEqual(60);
    // A quiet window forgives.
    l.fail('k', 200_000);
    expect(l.blockedFor('k', 200_000)).toBe(0);
  });
});

describe('LoginThrottle', () => {
  it('blocks a user at the address that failed, not everywhere', () => {
    const t = new LoginThrottle(3, 900_000);
    for (let i = 0; i < 3; i++) expect(t.attempt('10.0.0.1', 'admin', 0)).toBe(0);
    expect(t.attempt('10.0.0.1', 'Admin', 0)).toBeGreaterThan(0);
    expect(t.attempt('10.0.0.2', 'admin', 0), 'the real admin elsewhere').toBe(0);
    expect(t.attempt('10.0.0.1', 'ops', 0), 'another user from that address').toBe(0);
  });

  it('blocks an address that tries many users', () => {
    const t = new LoginThrottle(2, 900_000);
    for (let i = 0; i < 8; i++) expect(t.attempt('10.0.0.9', `user${i}`, 0)).toBe(0);
    expect(t.attempt('10.0.0.9', 'someone-else', 0)).toBeGreaterThan(0);
  });

  it('a right password clears the pair', () => {
    const t = new LoginThrottle(2, 900_000);
    t.attempt('10.0.0.1', 'admin', 0);
    t.succeeded('10.0.0.1', 'admin');
    t.attempt('10.0.0.1', 'admin', 0);
    expect(t.attempt('10.0.0.1', 'admin', 0)).toBe(0);
  });
});
