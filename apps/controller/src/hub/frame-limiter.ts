/**
 * Token buckets for what one agent connection may send: any frame, `local-routes` frames (each of which
 * makes the controller compare and store up to a few thousand routes) and `upstream-health` frames. A well-behaved agent stays far below
 * both: it heartbeats every few seconds and publishes its local routes at most every 1.5 s.
 */
export interface BucketSpec {
  /** Frames that may arrive at once. */
  burst: number;
  /** Frames per second refilled. */
  perSecond: number;
}

export interface FrameLimits {
  any: BucketSpec;
  localRoutes: BucketSpec;
  /** `upstream-health` frames (each may list 20,000 upstreams); the agent sends at most one every 5 s. */
  upstreamHealth?: BucketSpec;
}

export const FRAME_LIMITS: FrameLimits = {
  any: { burst: 200, perSecond: 50 },
  localRoutes: { burst: 10, perSecond: 1 },
  upstreamHealth: { burst: 10, perSecond: 1 },
};

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly spec: BucketSpec,
    now = Date.now(),
  ) {
    this.tokens = spec.burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.spec.burst, this.tokens + ((now - this.last) / 1000) * this.spec.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class FrameLimiter {
  private readonly any: TokenBucket;
  private readonly localRoutes: TokenBucket;
  private readonly upstreamHealth: TokenBucket | null;

  constructor(
    readonly limits = FRAME_LIMITS,
    now = Date.now(),
  ) {
    this.any = new TokenBucket(limits.any, now);
    this.localRoutes = new TokenBucket(limits.localRoutes, now);
    this.upstreamHealth = limits.upstreamHealth ? new TokenBucket(limits.upstreamHealth, now) : null;
  }

  /** Null when the frame may be handled, otherwise why not (for the close reason). */
  check(type: string, now = Date.now()): string | null {
    if (!this.any.take(now)) return `more than ${this.limits.any.perSecond} frames per second`;
    if (type === 'local-routes' && !this.localRoutes.take(now)) return `more than ${this.limits.localRoutes.perSecond} local-routes frame per second`;
    if (type === 'upstream-health' && this.upstreamHealth && !this.upstreamHealth.take(now)) {
      return `more than ${this.limits.upstreamHealth!.perSecond} upstream-health frame per second`;
    }
    return null;
  }
}
