/**
 * Upstream health: what an agent reports about each upstream its Caddy proxies to (the `upstream-health` frame),
 * and what the API shows per proxy route (`upstreamHealth`), derived from the report of the route's node.
 */
import { z } from 'zod';
import type { ProxyOptions } from './proxy-options';

/** Upstreams one report may list (distinct dial addresses of a node's proxy routes, locations included). */
export const MAX_REPORTED_UPSTREAMS = 20_000;

const counter = z.number().int().min(0).max(1_000_000_000);

/**
 * One upstream of the node's Caddy, keyed by its dial address as the config has it (`10.0.0.5:8080`,
 * `[2001:db8::5]:80`). `healthy` is Caddy's own verdict (active checks, and passive ones at its last refresh);
 * null when Caddy has not said. `fails`: failed requests still counted by passive checks; `numRequests`: requests in flight.
 */
export const upstreamReportSchema = z.strictObject({
  address: z
    .string()
    .min(1)
    .max(300)
    .regex(/^[A-Za-z0-9._:[\]%-]+$/, 'is not a dial address'),
  healthy: z.boolean().nullable(),
  fails: counter,
  numRequests: counter,
});
export type UpstreamReport = z.infer<typeof upstreamReportSchema>;

/** One upstream of a proxy route, as the API shows it. */
export const routeUpstreamHealthSchema = z.object({
  host: z.string(),
  port: z.number(),
  /** The custom location (path prefix) this upstream serves; null for the route's main upstreams. */
  location: z.string().nullable(),
  /** true/false as the node's Caddy judges it; null = unknown (no health checks, node offline, not reported yet). */
  healthy: z.boolean().nullable(),
  fails: z.number().nullable(),
  numRequests: z.number().nullable(),
  /** When the node last reported this upstream; null when it never did. */
  checkedAt: z.string().nullable(),
});
export type RouteUpstreamHealth = z.infer<typeof routeUpstreamHealthSchema>;

/** `host:port` as Caddy's `dial` has it: IPv6 hosts in brackets. */
export function upstreamAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What the controller knows of a node for this: whether its agent is connected, and its last report. */
export interface NodeUpstreamHealth {
  connected: boolean;
  reportedAt: string | null;
  byAddress: ReadonlyMap<string, UpstreamReport>;
}

interface ProxyRouteView {
  kind: string;
  enabled: boolean;
  lastError: string | null;
  upstreams: { host: string; port: number }[];
  options?: ProxyOptions | undefined;
}

/**
 * The health of each upstream of a proxy route (main upstreams, then each location's); undefined for other kinds.
 * Caddy judges only upstreams with health checks: without them (and for a route the node does not serve, or a node
 * that is not connected or has not reported) `healthy` is null. Passive checks are also applied to `fails`
 * directly, which is fresher than Caddy's verdict (Caddy refreshes that every 10 s).
 */
export function routeUpstreamHealth(route: ProxyRouteView, node: NodeUpstreamHealth | undefined): RouteUpstreamHealth[] | undefined {
  if (route.kind !== 'proxy') return undefined;
  const checks = route.options?.healthChecks;
  const checked = Boolean(checks?.active || checks?.passive);
  const live = Boolean(node?.connected) && route.enabled && !route.lastError;
  const entry = (u: { host: string; port: number }, location: string | null): RouteUpstreamHealth => {
    const report = node?.byAddress.get(upstreamAddress(u.host, u.port));
    let healthy: boolean | null = null;
    if (report && live && checked) {
      healthy = checks?.passive && report.fails >= checks.passive.maxFails ? false : report.healthy;
    }
    return {
      host: u.host,
      port: u.port,
      location,
      healthy,
      fails: report?.fails ?? null,
      numRequests: report?.numRequests ?? null,
      checkedAt: report ? (node?.reportedAt ?? null) : null,
    };
  };
  return [
    ...route.upstreams.map((u) => entry(u, null)),
    ...(route.options?.locations ?? []).flatMap((l) => l.upstreams.map((u) => entry(u, l.path))),
  ];
}
