import { describe, expect, it } from 'vitest';
import { FrameLimiter, TokenBucket } from './frame-limiter';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate', () => {
    const b = new TokenBucket({ burst: 3, perSecond: 2 }, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.take(400)).toBe(false);
    expect(b.take(500)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.take(10_000)).toBe(true);
  });
});

describe('FrameLimiter', () => {
  it('limits local-routes frames more tightly than the rest', () => {
    const l = new FrameLimiter({ any: { burst: 100, perSecond: 50 }, localRoutes: { burst: 2, perSecond: 1 } }, 0);
    expect(l.check('local-routes', 0)).toBeNull();
    expect(l.check('local-routes', 0)).toBeNull();
    expect(l.check('local-routes', 0)).toMatch(/local-routes/);
    expect(l.check('status', 0)).toBeNull();
    expect(l.check('local-routes', 1000)).toBeNull();
  });

  it('limits upstream-health frames to one a second after a burst', () => {
    const l = new FrameLimiter({ any: { burst: 100, perSecond: 50 }, localRoutes: { burst: 2, perSecond: 1 }, upstreamHealth: { burst: 2, perSecond: 1 } }, 0);
    expect(l.check('upstream-health', 0)).toBeNull();
    expect(l.check('upstream-health', 0)).toBeNull();
    expect(l.check('upstream-health', 0)).toMatch(/upstream-health/);
    expect(l.check('upstream-health', 1000)).toBeNull();
  });

  it('limits any flood of frames', () => {
    const l = new FrameLimiter({ any: { burst: 5, perSecond: 1 }, localRoutes: { burst: 5, perSecond: 1 } }, 0);
    for (let i = 0; i < 5; i++) expect(l.check('ping', 0)).toBeNull();
    expect(l.check('ping', 0)).toMatch(/frames per second/);
  });

  it('a heartbeating agent never hits the limits', () => {
    const l = new FrameLimiter(undefined, 0);
    // status + ping every second and a local-routes publish every 1.5 s, for an hour.
    for (let t = 0; t < 3_600_000; t += 500) {
      expect(l.check('status', t)).toBeNull();
      expect(l.check('ping', t)).toBeNull();
      if (t % 1500 === 0) expect(l.check('local-routes', t)).toBeNull();
      if (t % 5000 === 0) expect(l.check('upstream-health', t)).toBeNull();
    }
  });
});
