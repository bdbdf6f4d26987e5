import type { Logger } from 'pino';
import type { NodeTable } from '../db/schema';
import type { ServiceContext } from '../services/context';
import { updateNodesSql } from './node-status-sql';

type NodeUpdate = Partial<Pick<NodeTable, 'status' | 'caddy_version' | 'agent_version' | 'last_seen_at' | 'route_count' | 'cert_count' | 'applied_revision' | 'last_error'>>;

/**
 * Collects node-row updates and writes them as a few multi-row statements per flush. Heartbeats from a large fleet would
 * otherwise be one write each; status transitions (online/offline/error) are flushed at once because the
 * dashboard and the tests watch for them.
 */
export class NodeStatusWriter {
  private pending = new Map<string, NodeUpdate>();
  private timer: NodeJS.Timeout | null = null;
  private urgentQueued = false;
  private flushing: Promise<void> = Promise.resolve();
  flushCount = 0;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
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
      .catch((err: unknown) => this.log.error({ err, nodes: [...batch.keys()] }, 'could not write node status'));
    return this.flushing;
  }

  private async write(batch: Map<string, NodeUpdate>): Promise<void> {
    const now = this.ctx.now().toISOString();
    this.flushCount += 1;
    // One multi-row UPDATE per set of columns (heartbeats all share one); a revocation has the last word
    // there too: a heartbeat queued just before it must not mark the node online again.
    const statements = updateNodesSql(batch, now);
    if (statements.length === 1) await statements[0]!.execute(this.ctx.db);
    else await this.ctx.db.transaction().execute(async (trx) => {
      for (const statement of statements) await statement.execute(trx);
    });
    for (const nodeId of batch.keys()) this.ctx.events.emit('node', nodeId);
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
