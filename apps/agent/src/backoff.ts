/**
 * Exponential backoff with full jitter (each delay uniform in [0, ceiling], the ceiling doubling from `minMs`
 * up to `maxMs`). Full jitter spreads a fleet that lost its controller at the same moment over the whole
 * window instead of having every agent knock again in lock-step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0) || !(maxMs >= minMs)) throw new Error(`invalid backoff bounds ${minMs}..${maxMs} ms`);
  }

  /** The ceiling the next delay is drawn under. */
  ceiling(): number {
    // 2^attempt overflows to Infinity long after it passed maxMs; Math.min keeps that harmless.
    return Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
  }

  /** The next delay in ms, then raises the ceiling. */
  next(): number {
    const delay = Math.round(this.random() * this.ceiling());
    if (this.ceiling() < this.maxMs) this.attempt++;
    return delay;
  }

  /** A delay near the top of the range, for a peer that will not change its mind soon (protocol mismatch). */
  slow(): number {
    this.attempt = Math.max(this.attempt, Math.ceil(Math.log2(this.maxMs / this.minMs)));
    return Math.round(this.maxMs * (0.5 + 0.5 * this.random()));
  }

  /** Back to the smallest ceiling, after a connection that worked. */
  reset(): void {
    this.attempt = 0;
  }
}

/** A sleep that `cancel()` ends early (resolving false), so stopping never waits out a 60 s backoff. */
export function cancellableSleep(ms: number): { promise: Promise<boolean>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let finish: (completed: boolean) => void = () => {};
  const promise = new Promise<boolean>((resolve) => {
    finish = resolve;
    timer = setTimeout(() => resolve(true), ms);
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      finish(false);
    },
  };
}
