/** What the route list shows per upstream of a proxy host: Caddy's verdict, in plain words with an explanation. */
import type { FleetNode, Route } from '../api/types';
import { upstreamLabel } from './routes';

export type UpstreamHealthState = 'healthy' | 'unhealthy' | 'unknown' | 'unchecked';

export interface UpstreamHealthLine {
  key: string;
  /** `10.0.0.5:8080`, or `/api → 10.0.0.7:9000` for a location's upstream. */
  label: string;
  address: string;
  state: UpstreamHealthState;
  /** The tooltip: why, and when it was last reported. */
  title: string;
}

const fails = (n: number | null) => (n ? ` ${n} failed request${n === 1 ? '' : 's'} counted by passive checks.` : '');

/**
 * One line per upstream (main upstreams, then each location's). Unknown while the server is not connected, even
 * when the last report said otherwise; unchecked when the route has no health checks (Caddy then judges nothing).
 */
export function upstreamHealthLines(route: Route, node: Pick<FleetNode, 'status' | 'name'> | undefined): UpstreamHealthLine[] {
  const checks = route.options?.healthChecks;
  const checked = Boolean(checks?.active || checks?.passive);
  const connected = node?.status === 'online' || node?.status === 'error';
  const entries = route.upstreamHealth ?? route.upstreams.map((u) => ({ ...u, location: null, healthy: null, fails: null, numRequests: null, checkedAt: null }));
  return entries.map((u, i) => {
    const address = upstreamLabel(u);
    const base = { key: `${u.location ?? ''}|${address}|${i}`, label: u.location ? `${u.location} → ${address}` : address, address };
    if (!checked) return { ...base, state: 'unchecked', title: 'No health checks: Caddy sends requests here without checking it.' };
    if (!connected) return { ...base, state: 'unknown', title: `Unknown: ${node?.name ?? 'its server'} is not connected.` };
    const when = u.checkedAt ? ` Reported ${new Date(u.checkedAt).toLocaleString()}.` : '';
    if (u.healthy === null) return { ...base, state: 'unknown', title: `Unknown: not reported by the server yet.${when}` };
    return u.healthy
      ? { ...base, state: 'healthy', title: `Healthy: Caddy sends requests here.${fails(u.fails)}${when}` }
      : { ...base, state: 'unhealthy', title: `Unhealthy: Caddy's health checks failed, so it sends no requests here.${fails(u.fails)}${when}` };
  });
}
