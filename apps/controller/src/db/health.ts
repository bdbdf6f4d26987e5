import type { Logger } from 'pino';
import type { OpenDatabase } from './connect';
import { isDatabaseUnavailable } from './availability';

export type DatabaseState = 'ok' | 'unavailable';

/**
 * The database's state as /healthz reports it. A probe is a `select 1` bounded in time; while the database is
 * away a monitor probes every second, so its return is noticed (and logged, and announced to `onRecovered`)
 * even when no request comes in.
 */
export class DatabaseHealth {
  state: DatabaseState = 'ok';
  lastError: string | null = null;
  since = new Date();
  private probing: Promise<DatabaseState> | null = null;
  private monitor: NodeJS.Timeout | null = null;
  private readonly recovered: (() => void)[] = [];

  constructor(
    private readonly store: OpenDatabase,
    private readonly log: Logger,
    private readonly timeoutMs = 2000,
  ) {}

  onRecovered(fn: () => void): void {
    this.recovered.push(fn);
  }

  /** Concurrent callers share one probe. */
  check(): Promise<DatabaseState> {
    this.probing ??= this.probe().finally(() => (this.probing = null));
    return this.probing;
  }

  /** Called with errors seen elsewhere: a lost connection marks the database unavailable at once. */
  observe(err: unknown): void {
    if (isDatabaseUnavailable(err)) this.set('unavailable', err);
  }

  close(): void {
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = null;
  }

  private async probe(): Promise<DatabaseState> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.store.ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs))),
      ]);
      this.set('ok', null);
    } catch (err) {
      this.set('unavailable', err);
    } finally {
      clearTimeout(timer);
    }
    return this.state;
  }

  private set(state: DatabaseState, err: unknown): void {
    if (state === 'unavailable') this.lastError = err instanceof Error ? err.message : String(err);
    if (state === this.state) return;
    this.state = state;
    this.since = new Date();
    if (state === 'unavailable') {
      this.log.error({ err: this.lastError }, 'database unavailable; answering 503 until it is back');
      this.monitor ??= setInterval(() => void this.check(), 1000);
      this.monitor.unref();
      return;
    }
    this.log.warn('database available again');
    this.lastError = null;
    this.close();
    for (const fn of this.recovered) fn();
  }
}
