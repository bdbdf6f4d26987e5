import type { UpstreamReport } from '@caddyfleet/protocol';
import type { ServiceContext } from '../services/context';
import type { NodeStatusWriter } from './node-status-writer';

/**
 * Stores each node's `upstream-health` reports in its row (batched with the other status writes) and tells live
 * dashboards (`routes` event) when a verdict or a failure count changed; in-flight counts alone do not.
 */
export class UpstreamHealthRecorder {
  /** Per connected node: the verdicts and failure counts of its last report. */
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly writer: NodeStatusWriter,
  ) {}

  record(nodeId: string, upstreams: readonly UpstreamReport[]): void {
    const byAddress = new Map(upstreams.map((u) => [u.address, u]));
    const sorted = [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    this.writer.update(nodeId, { upstream_health: JSON.stringify(sorted), upstream_health_at: this.ctx.now().toISOString() });
    const key = sorted.map((u) => `${u.address} ${u.healthy} ${u.fails}`).join('\n');
    if (this.seen.get(nodeId) === key) return;
    this.seen.set(nodeId, key);
    void this.writer.flush().then(() => this.ctx.events.emit('routes', nodeId));
  }

  forget(nodeId: string): void {
    this.seen.delete(nodeId);
  }
}
