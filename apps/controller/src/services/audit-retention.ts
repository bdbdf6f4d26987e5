import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ServiceContext } from './context';

export interface AuditRetentionOptions {
  auditRetentionDays: number;
  auditMaxRows: number;
}

/** Rows deleted per statement, so pruning a large backlog never holds the database (or the event loop) for long. */
const CHUNK = 5000;

/**
 * Keeps the audit log bounded: entries older than the retention period go, and beyond the row cap the oldest
 * go. Runs at start and then every hour.
 */
export class AuditRetention {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: AuditRetentionOptions,
  ) {}

  async prune(): Promise<{ expired: number; overCap: number }> {
    const cutoff = new Date(this.ctx.now().getTime() - this.opts.auditRetentionDays * 86_400_000).toISOString();
    const expired = await this.deleteWhile(async () =>
      (await this.ctx.db.selectFrom('audit_log').select('seq').where('at', '<', cutoff).orderBy('seq').limit(CHUNK).execute()).map((r) => r.seq),
    );
    const newestToDrop = await this.ctx.db.selectFrom('audit_log').select('seq').orderBy('seq', 'desc').offset(this.opts.auditMaxRows).limit(1).executeTakeFirst();
    const overCap = newestToDrop
      ? await this.deleteWhile(async () =>
          (await this.ctx.db.selectFrom('audit_log').select('seq').where('seq', '<=', newestToDrop.seq).orderBy('seq').limit(CHUNK).execute()).map((r) => r.seq),
        )
      : 0;
    return { expired, overCap };
  }

  private async deleteWhile(next: () => Promise<number[]>): Promise<number> {
    let deleted = 0;
    for (let round = 0; round < 1_000_000; round++) {
      const seqs = await next();
      if (seqs.length === 0) break;
      await this.ctx.db.deleteFrom('audit_log').where('seq', 'in', seqs).execute();
      deleted += seqs.length;
      await yieldToEventLoop();
    }
    return deleted;
  }
}
