import type { FleetNode, NodeStatus, Route, RouteKind } from '../api/types';

export function relativeTime(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const s = Math.round((now - t) / 1000);
  if (s < -5) return 'in the future';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export const STATUS_LABEL: Record<NodeStatus, string> = {
  online: 'Online',
  offline: 'Offline',
  provisioning: 'Provisioning',
  error: 'Error',
  pending: 'Pending',
};

export const KIND_INFO: Record<RouteKind, { title: string; singular: string; path: string; blurb: string }> = {
  proxy: { title: 'Proxy hosts', singular: 'proxy host', path: '/proxy-hosts', blurb: 'Forward requests for a domain to one or more upstream servers.' },
  redirect: { title: 'Redirection hosts', singular: 'redirection host', path: '/redirection-hosts', blurb: 'Send visitors of a domain to another URL.' },
  stream: { title: 'Streams', singular: 'stream', path: '/streams', blurb: 'Forward a raw TCP or UDP port to upstream servers (needs the layer4 Caddy module on the server).' },
  dead: { title: '404 hosts', singular: '404 host', path: '/404-hosts', blurb: 'Answer a domain with "404 Not Found", e.g. to park it.' },
};

export function inSync(n: FleetNode): boolean {
  return n.lastSeenAt !== null && n.appliedRevision >= n.desiredRevision;
}

/** The id the server selector uses for a route's node (`local` for the controller's own node). */
export function routeNodeKey(r: Route): string {
  return r.nodeId ?? 'local';
}

export function nodeLabel(n: FleetNode | undefined, id: string | null): string {
  if (n) return n.isLocal ? (n.name.toLowerCase() === 'local' ? 'Local' : `Local (${n.name})`) : n.name;
  return id === null || id === 'local' ? 'Local' : id;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
