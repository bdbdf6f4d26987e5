import { describe, expect, it } from 'vitest';
import { Backoff, cancellableSleep } from './backoff';

describe('Backoff', () => {
  it('draws each delay uniformly under a ceiling that doubles from min to max', () => {
    const top = new Backoff(1000, 60_000, () => 0.999999);
    const ceilings = Array.from({ length: 10 }, () => top.next());
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]);
    const bottom = new Backoff(1000, 60_000, () => 0);
    expect(Array.from({ length: 10 }, () => bottom.next())).toEqual(Array(10).fill(0));
  });

  it('stays within [0, ceiling] with the real random source', () => {
    const b = new Backoff(1000, 60_000);
    for (let i = 0; i < 200; i++) {
      const ceiling = b.ceiling();
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(ceiling);
      expect(d).toBeLessThanOrEqual(60_000);
    }
  });

  it('reset returns to the smallest ceiling', () => {
    const b = new Backoff(100, 10_000, () => 1);
    for (let i = 0; i < 20; i++) b.next();
    expect(b.ceiling()).toBe(10_000);
    b.reset();
    expect(b.ceiling()).toBe(100);
    expect(b.next()).toBe(100);
  });

  it('slow() stays in the top half of the range and raises the ceiling to max', () => {
    const b = new Backoff(1000, 60_000);
    for (let i = 0; i < 50; i++) {
      const d = b.slow();
      expect(d).toBeGreaterThanOrEqual(30_000);
      expect(d).toBeLessThanOrEqual(60_000);
    }
    expect(b.ceiling()).toBe(60_000);
  });

  it('rejects nonsense bounds', () => {
    expect(() => new Backoff(0, 10)).toThrow();
    expect(() => new Backoff(10, 5)).toThrow();
  });
});

describe('cancellableSleep', () => {
  it('resolves true when it ran out and false when cancelled', async () => {
    expect(await cancellableSleep(5).promise).toBe(true);
    const s = cancellableSleep(60_000);
    s.cancel();
    expect(await s.promise).toBe(false);
  });
});
