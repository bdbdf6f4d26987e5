import type { FleetNode, Route } from '../api/types';

export function routeTitle(r: Route): string {
  if (r.kind === 'stream' && r.listen) {
    const port = `${r.listen.protocol.toUpperCase()} port ${r.listen.port}`;
    return r.sni?.length ? `${port} · ${r.sni.join(', ')}` : port;
  }
  return r.domains.join(', ');
}

export function upstreamLabel(u: { host: string; port: number }): string {
  return `${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`;
}

export function upstreamList(r: Route): string {
  return r.upstreams.map(upstreamLabel).join(', ');
}

export function routeTarget(r: Route): string {
  switch (r.kind) {
    case 'proxy':
      return `→ ${upstreamList(r)}`;
    case 'stream':
      return `→ ${upstreamList(r)}${r.proxyProtocol ? ` (PROXY ${r.proxyProtocol})` : ''}`;
    case 'redirect':
      return r.redirect ? `↪ ${r.redirect.to} (${r.redirect.status}${r.redirect.preservePath ? ', keeps path' : ''})` : '';
    case 'dead':
      return '404 Not Found';
  }
}

export const TLS_LABEL: Record<Route['tls'], string> = { auto: 'HTTPS (automatic)', internal: 'HTTPS (internal CA)', off: 'HTTP only' };

/** Why a route cannot be edited here, or null when it can. */
export function readOnlyReason(r: Route, node: FleetNode | undefined): string | null {
  const where = node ? (node.isLocal ? `the controller's local server (${node.name})` : node.name) : (r.nodeId ?? 'the local server');
  if (r.origin === 'docker') return `Published by Docker on ${where}; change the container's labels to edit it.`;
  if (r.scope === 'local_only' || r.origin === 'local') return `Managed on the agent ${where}; edit it there.`;
  return null;
}
