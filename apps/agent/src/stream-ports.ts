/**
 * `<state-dir>/stream-ports`: the ports this node's Caddy listens on for stream routes, one `PORT/PROTO` a line.
 * A host provisioned over SSH opens exactly these in its firewall (a root path unit watches the file), so a
 * stream route reaches the outside without the controller logging in again.
 */
import type { Route } from '@caddyfleet/protocol';

/** Served stream listeners: enabled stream routes that the node could render (not `unsupported`), sorted. */
export function streamPortsOf(routes: readonly Route[], unsupported: ReadonlySet<string>): string[] {
  const ports = new Set<string>();
  for (const r of routes) {
    if (r.kind === 'stream' && r.enabled && r.listen && !unsupported.has(r.id)) ports.add(`${r.listen.port}/${r.listen.protocol}`);
  }
  return [...ports].sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
}
