/**
 * Fixed-window counter of failures per key, in memory. Login throttling only has to hold for the life of the
 * process; keys are bounded so a flood of distinct keys cannot grow memory without limit.
 */
export class FailureLimiter {
  private readonly hits = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Seconds until the key may try again, or 0 when it is not blocked. */
  blockedFor(key: string, now = Date.now()): number {
    const entry = this.hits.get(key);
    if (!entry || entry.resetAt <= now) return 0;
    return entry.count >= this.max ? Math.ceil((entry.resetAt - now) / 1000) : 0;
  }

  fail(key: string, now = Date.now()): void {
    const entry = this.hits.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.hits.size >= this.maxKeys) this.evict(now);
      this.hits.set(key, { count: 1, resetAt: now + this.windowMs });
    } else {
      entry.count += 1;
    }
  }

  /** Takes back one failure, for an attempt that was counted up front and then succeeded. */
  refund(key: string): void {
    const entry = this.hits.get(key);
    if (entry && entry.count > 0) entry.count -= 1;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }

  private evict(now: number): void {
    for (const [k, v] of this.hits) if (v.resetAt <= now) this.hits.delete(k);
    if (this.hits.size >= this.maxKeys) {
      const oldest = this.hits.keys().next().value;
      if (oldest !== undefined) this.hits.delete(oldest);
    }
  }
}

/**
 * Failures per key with exponential backoff: the first `free` failures within `windowMs` cost nothing; from
 * then on each failure blocks the key for baseMs·2^(n−free), at most `windowMs`. A key with no failure for a
 * whole window starts over. Counted before the slow check, so parallel attempts cannot slip through.
 */
export class BackoffLimiter {
  private readonly keys = new Map<string, { count: number; lastAt: number; until: number }>();

  constructor(
    private readonly free: number,
    private readonly windowMs: number,
    private readonly baseMs = 1000,
    private readonly maxKeys = 100_000,
  ) {}

  /** Seconds until the key may try again, or 0. */
  blockedFor(key: string, now = Date.now()): number {
    const e = this.keys.get(key);
    if (!e || e.until <= now) return 0;
    return Math.ceil((e.until - now) / 1000);
  }

  fail(key: string, now = Date.now()): void {
    let e = this.keys.get(key);
    if (!e || now - e.lastAt > this.windowMs) {
      if (!e && this.keys.size >= this.maxKeys) this.evict(now);
      e = { count: 0, lastAt: now, until: 0 };
      this.keys.set(key, e);
    }
    e.count += 1;
    e.lastAt = now;
    if (e.count >= this.free) e.until = now + Math.min(this.windowMs, this.baseMs * 2 ** (e.count - this.free));
  }

  reset(key: string): void {
    this.keys.delete(key);
  }

  private evict(now: number): void {
    for (const [k, v] of this.keys) if (now - v.lastAt > this.windowMs && v.until <= now) this.keys.delete(k);
    if (this.keys.size >= this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }
}

/**
 * Throttles password checks (login, password change) per user and client address with backoff, and per address
 * over all users at a higher count, so that wrong passwords sent from elsewhere never lock a user out of
 * their own address.
 */
export class LoginThrottle {
  private readonly byPair: BackoffLimiter;
  private readonly byIp: FailureLimiter;

  constructor(maxAttempts: number, windowMs: number) {
    this.byPair = new BackoffLimiter(maxAttempts, windowMs);
    this.byIp = new FailureLimiter(maxAttempts * 4, windowMs);
  }

  /** Records an attempt up front; returns the seconds to wait instead when the pair or the address is blocked. */
  attempt(ip: string, username: string, now = Date.now()): number {
    const pair = `${username.toLowerCase()}\n${ip}`;
    const wait = Math.max(this.byIp.blockedFor(ip, now), this.byPair.blockedFor(pair, now));
    if (wait > 0) return wait;
    this.byIp.fail(ip, now);
    this.byPair.fail(pair, now);
    return 0;
  }

  /** The attempt was right: it does not count. */
  succeeded(ip: string, username: string): void {
    this.byIp.refund(ip);
    this.byPair.reset(`${username.toLowerCase()}\n${ip}`);
  }
}
