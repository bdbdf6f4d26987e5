/**
 * Token buckets for what one agent connection may send: any frame, and `local-routes` frames (each of which
 * makes the controller compare and store up to a few thousand routes). A well-behaved agent stays far below
 * both: it heartbeats every few seconds and publishes its local routes at most every 1.5 s.
 */
export interface BucketSpec {
  /** Frames that may arrive at once. */
  burst: number;
  /** Frames per second refilled. */
  perSecond: number;
}

export const FRAME_LIMITS: { any: BucketSpec; localRoutes: BucketSpec } = {
  any: { burst: 200, perSecond: 50 },
  localRoutes: { burst: 10, perSecond: 1 },
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

  constructor(
    readonly limits = FRAME_LIMITS,
    now = Date.now(),
  ) {
    this.any = new TokenBucket(limits.any, now);
    this.localRoutes = new TokenBucket(limits.localRoutes, now);
  }

  /** Null when the frame may be handled, otherwise why not (for the close reason). */
  check(type: string, now = Date.now()): string | null {
    if (!this.any.take(now)) return `more than ${this.limits.any.perSecond} frames per second`;
    if (type === 'local-routes' && !this.localRoutes.take(now)) return `more than ${this.limits.localRoutes.perSecond} local-routes frame per second`;
    return null;
  }
}
