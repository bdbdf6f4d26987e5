import type { FastifyInstance } from 'fastify';

/** Counts HTTP requests by method, route pattern and status; rendered with the fleet gauges at scrape time. */
export class HttpMetrics {
  private readonly counts = new Map<string, number>();
  /** More metric lines from other parts of the controller (the agent hub), rendered at scrape time. */
  readonly sources: (() => string[])[] = [];

  install(app: FastifyInstance): void {
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const key = `${req.method}\u0000${route}\u0000${reply.statusCode}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    });
  }

  render(gauges: { routesByKind: Record<string, number>; nodesByStatus: Record<string, number> }): string {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines = ['# HELP caddyfleet_http_requests_total HTTP requests handled by the controller.', '# TYPE caddyfleet_http_requests_total counter'];
    for (const [key, n] of [...this.counts].sort()) {
      const [method, route, status] = key.split('\u0000') as [string, string, string];
      lines.push(`caddyfleet_http_requests_total{method="${esc(method)}",route="${esc(route)}",status="${status}"} ${n}`);
    }
    lines.push('# HELP caddyfleet_routes Routes by kind.', '# TYPE caddyfleet_routes gauge');
    for (const kind of ['proxy', 'redirect', 'stream', 'dead']) lines.push(`caddyfleet_routes{kind="${kind}"} ${gauges.routesByKind[kind] ?? 0}`);
    lines.push('# HELP caddyfleet_nodes Nodes by status.', '# TYPE caddyfleet_nodes gauge');
    for (const status of ['pending', 'provisioning', 'online', 'offline', 'error']) {
      lines.push(`caddyfleet_nodes{status="${status}"} ${gauges.nodesByStatus[status] ?? 0}`);
    }
    for (const source of this.sources) lines.push(...source());
    return lines.join('\n') + '\n';
  }
}
