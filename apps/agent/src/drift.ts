/**
 * Periodic check that Caddy still runs what the agent applied. Someone (or something) changing Caddy behind
 * the agent's back would otherwise go unnoticed until the next sync; here it is undone within one interval
 * and reported to the controller in the next status frame.
 */
import type { Logger } from 'pino';
import type { Applier } from './apply';
import { errorMessage } from './errors';

export class DriftChecker {
  checks = 0;
  repairs = 0;
  lastRepairAt: string | null = null;
  /** Set by a repair, cleared when a status frame reported it. */
  private unreported = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly applier: Applier,
    private readonly intervalSeconds: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.intervalSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      // Never two at once: a slow Caddy must not pile up checks.
      if (!this.running) this.running = this.checkNow().finally(() => (this.running = null));
    }, this.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** One check; also retries an apply that failed because Caddy was unreachable. Never throws. */
  async checkNow(): Promise<'ok' | 'repaired' | 'skipped' | 'error'> {
    try {
      await this.applier.retryPending();
      this.checks++;
      const result = await this.applier.checkDrift();
      if (result === 'repaired') {
        this.repairs++;
        this.unreported = true;
        this.lastRepairAt = new Date().toISOString();
      }
      return result;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'drift check failed');
      return 'error';
    }
  }

  /** Whether drift was repaired since the last call (for the `drift` field of the next status frame). */
  takeDriftFlag(): boolean {
    const flag = this.unreported;
    this.unreported = false;
    return flag;
  }
}
