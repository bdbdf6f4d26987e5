/**
 * What Caddy's admin API tells about reverse-proxy upstreams, read in two places because neither has it all:
 *  - `GET /reverse_proxy/upstreams`: `[{address, num_requests, fails}]` for every upstream in Caddy's global pool
 *    (also ones of configs already replaced, until released); no health verdict;
 *  - `GET /metrics`: `caddy_reverse_proxy_upstreams_healthy{upstream="…"} 0|1`, Caddy's verdict (active checks,
 *    and passive ones), refreshed by Caddy every 10 s per handler. After a reload it starts at 1 (set before the
 *    first check), and Caddy 2.11 resets the gauge whenever a handler is provisioned, so an address may be
 *    missing for up to 10 s.
 * Only the dial addresses of the running config's `reverse_proxy` handlers are reported.
 */
import { MAX_REPORTED_UPSTREAMS, upstreamReportSchema, type UpstreamReport } from '@caddyfleet/protocol';

const HEALTHY_METRIC = 'caddy_reverse_proxy_upstreams_healthy';

/** `\\`, `\"` and `\n` in a Prometheus label value. */
function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Caddy's health verdict per upstream dial address, from the Prometheus text of `GET /metrics`. */
export function parseHealthyGauges(text: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  let at = text.indexOf(HEALTHY_METRIC + '{');
  while (at !== -1) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end === -1 ? undefined : end);
    // Only at the start of a line: the name also appears in `# HELP` / `# TYPE` comments (without a brace).
    if (at === 0 || text[at - 1] === '\n') {
      const m = /^[a-z_]+\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}\s+(\S+)/.exec(line);
      const value = m ? Number(m[2]) : NaN;
      if (m && !Number.isNaN(value)) {
        for (const l of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
          if (l[1] === 'upstream') out.set(unescapeLabel(l[2]!), value !== 0);
        }
      }
    }
    at = end === -1 ? -1 : text.indexOf(HEALTHY_METRIC + '{', end);
  }
  return out;
}

export interface PoolEntry {
  fails: number;
  numRequests: number;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, 1_000_000_000) : 0);

/** `GET /reverse_proxy/upstreams` → address → counters; entries that are not what Caddy writes are skipped. */
export function parseUpstreamPool(json: unknown): Map<string, PoolEntry> {
  const out = new Map<string, PoolEntry>();
  if (!Array.isArray(json)) return out;
  for (const e of json as unknown[]) {
    if (!e || typeof e !== 'object') continue;
    const { address, fails, num_requests: numRequests } = e as Record<string, unknown>;
    if (typeof address !== 'string') continue;
    out.set(address, { fails: count(fails), numRequests: count(numRequests) });
  }
  return out;
}

/**
 * The dial addresses of every `reverse_proxy` handler in a config's HTTP app (subroutes included), sorted, and
 * whether any of those handlers has health checks: without any, Caddy judges nothing (its gauge stays at 1), so
 * `GET /metrics` has nothing to tell.
 */
export function reverseProxyTargets(config: unknown): { dials: string[]; healthChecked: boolean } {
  const dials = new Set<string>();
  let healthChecked = false;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.handler === 'reverse_proxy' && Array.isArray(o.upstreams)) {
      for (const u of o.upstreams as unknown[]) {
        const dial = (u as { dial?: unknown } | null)?.dial;
        if (typeof dial === 'string') dials.add(dial);
      }
      if (o.health_checks && typeof o.health_checks === 'object') healthChecked = true;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk((config as { apps?: { http?: unknown } } | null)?.apps?.http);
  return { dials: [...dials].sort(), healthChecked };
}

/** The dial addresses of every `reverse_proxy` handler in a config's HTTP app (subroutes included), sorted. */
export function reverseProxyDials(config: unknown): string[] {
  return reverseProxyTargets(config).dials;
}

/**
 * One report entry per dial address (at most MAX_REPORTED_UPSTREAMS). `healthy`: Caddy's gauge; when the gauge
 * lacks the address (reset after a reload), the verdict of `previous` stands, else null. Counters default to 0
 * for an address not in the pool yet (no request or check has touched it).
 *
 * `freshLoad`: Caddy loaded a config within the last refresh period. Its new handlers set the gauge before their
 * first health check, so a 1 then says nothing (an `unhealthy` 0 always does): `previous` stands, else null.
 */
export function combineUpstreamHealth(
  dials: readonly string[],
  pool: ReadonlyMap<string, PoolEntry>,
  gauges: ReadonlyMap<string, boolean>,
  previous: ReadonlyMap<string, boolean | null> = new Map(),
  freshLoad = false,
): UpstreamReport[] {
  const out: UpstreamReport[] = [];
  for (const address of dials) {
    if (out.length >= MAX_REPORTED_UPSTREAMS) break;
    if (!upstreamReportSchema.shape.address.safeParse(address).success) continue;
    const p = pool.get(address);
    out.push({
      address,
      healthy: (freshLoad && gauges.get(address) === true ? undefined : gauges.get(address)) ?? previous.get(address) ?? null,
      fails: p?.fails ?? 0,
      numRequests: p?.numRequests ?? 0,
    });
  }
  return out;
}
