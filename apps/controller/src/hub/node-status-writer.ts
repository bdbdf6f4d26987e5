import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/availability';
import type { NodeTable } from '../db/schema';
import type { ServiceContext } from '../services/context';

type NodeUpdate = Partial<
  Pick<
    NodeTable,
    | 'status'
    | 'caddy_version'
    | 'agent_version'
    | 'last_seen_at'
    | 'route_count'
    | 'cert_count'
    | 'applied_revision'
    | 'last_error'
    | 'caddy_modules'
    | 'http_port'
    | 'https_port'
    | 'certificates'
    | 'certificates_at'
    | 'layer4'
  >
>;

/**
 * Collects node-row updates and writes them in one transaction per flush. Heartbeats from a large fleet would
 * otherwise be one write each; status transitions (online/offline/error) are flushed at once because the
 * dashboard and the tests watch for them.
 */
export class NodeStatusWriter {
  private pending = new Map<string, NodeUpdate>();
  private timer: NodeJS.Timeout | null = null;
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
    if (urgent) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
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
    await this.ctx.db.transaction().execute(async (trx) => {
      for (const [nodeId, update] of batch) {
        await trx
          .updateTable('nodes')
          .set({ ...update, updated_at: now })
          .where('id', '=', nodeId)
          // A revocation has the last word: a heartbeat queued just before it must not mark the node online again.
          .where('revoked_at', 'is', null)
          .execute();
      }
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
