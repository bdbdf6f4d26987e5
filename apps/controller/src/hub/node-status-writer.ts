import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/availability';
import type { ServiceContext } from '../services/context';
import { updateNodesSql, type NodeStatusUpdate } from './node-status-sql';

/** The columns a status write may set (node-status-sql.ts knows each one's SQL type). */
type NodeUpdate = NodeStatusUpdate;

/**
 * Collects node-row updates and writes them as a few multi-row statements per flush. Heartbeats from a large
 * fleet would otherwise be one write each; status transitions (online/offline/error) are flushed at once because the
 * dashboard and the tests watch for them.
 */
export class NodeStatusWriter {
  private pending = new Map<string, NodeUpdate>();
  private timer: NodeJS.Timeout | null = null;
  private urgentQueued = false;
  private flushing: Promise<void> = Promise.resolve();
  flushCount = 0;
  private closed = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
    private readonly retryMs = 1000,
  ) {}

  update(nodeId: string, update: NodeUpdate, urgent = false): void {
    this.pending.set(nodeId, { ...this.pending.get(nodeId), ...update });
    if (urgent) this.flushSoon();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Urgent updates of the same tick (a fleet acking one change) go out in one flush, not one each. */
  private flushSoon(): void {
    if (this.urgentQueued) return;
    this.urgentQueued = true;
    setImmediate(() => {
      this.urgentQueued = false;
      void this.flush();
    });
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return this.flushing;
    this.flushing = this.flushing
      .then(() => this.write(batch))
      .catch((err: unknown) => {
        if (!isDatabaseUnavailable(err) || this.closed) return this.log.error({ err, nodes: [...batch.keys()] }, 'could not write node status');
        // The database is away: keep the updates (newer ones queued meanwhile win) and try again, so the rows
        // are right once it is back even if the agents have nothing new to say.
        this.ctx.health.observe(err);
        for (const [nodeId, update] of batch) this.pending.set(nodeId, { ...update, ...this.pending.get(nodeId) });
        this.timer ??= setTimeout(() => void this.flush(), this.retryMs);
      });
    return this.flushing;
  }

  private async write(batch: Map<string, NodeUpdate>): Promise<void> {
    const now = this.ctx.now().toISOString();
    this.flushCount += 1;
    // One multi-row UPDATE per set of columns (heartbeats all share one); a revocation has the last word
    // there too: a heartbeat queued just before it must not mark the node online again.
    const statements = updateNodesSql(batch, now, this.ctx.dialect);
    if (statements.length === 1) await this.ctx.db.executeQuery(statements[0]!);
    else await this.ctx.db.transaction().execute(async (trx) => {
      for (const statement of statements) await trx.executeQuery(statement);
    });
    for (const nodeId of batch.keys()) this.ctx.events.emit('node', nodeId);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
