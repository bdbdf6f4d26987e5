/**
 * Host routing with one handler per distinct behaviour instead of one per route: every host is mapped to the
 * handler that serves it (an upstream set, a redirect target, the 404 page), and each handler gets one Caddy
 * route whose matcher sets list its hosts. Caddy's load time grows with the number of handlers it provisions
 * (a reverse_proxy each), so a node with thousands of sites behind a few backends loads several times faster.
 *
 * The routing is exactly that of one route per caddyfleet route in id order (first match wins):
 *   - an exact host goes to the handler of the first route, in id order, that names it or has a wildcard
 *     matching it; exact hosts never overlap, so their groups can come in any order;
 *   - wildcard hosts come after all exact hosts (a host named exactly is taken before any wildcard unless an
 *     earlier route's wildcard already took it, see above), and two different wildcards never match the same
 *     host, because Caddy's `*` stands for exactly one label;
 *   - matcher sets hold at most 100 hosts: Caddy 2.6 matches longer lists by a case-sensitive binary search,
 *     shorter ones case-insensitively, as the per-route matchers (at most 100 domains per route) always did.
 * Caddy's map handler was not used for the dispatch: it compares the Host header case-sensitively, too.
 */
import type { HttpHandler, HttpRoute } from './caddy-json';

/** Caddy 2.6 `MatchHost.large()` is `len > 100`. */
const MAX_HOSTS_PER_MATCHER = 100;

export interface HostEntry {
  domains: readonly string[];
  handler: HttpHandler;
}

/** One label less: `a.b.c` → `*.b.c`; null for a single label. */
function wildcardOf(host: string): string | null {
  const dot = host.indexOf('.');
  return dot < 0 ? null : `*${host.slice(dot)}`;
}

/** Grouping key of a handler: its JSON, made once per handler object (build-config reuses them). */
const keys = new WeakMap<HttpHandler, string>();
function keyOf(handler: HttpHandler): string {
  let key = keys.get(handler);
  if (key === undefined) keys.set(handler, (key = JSON.stringify(handler)));
  return key;
}

function chunks(hosts: string[]): { host: string[] }[] {
  const out: { host: string[] }[] = [];
  for (let i = 0; i < hosts.length; i += MAX_HOSTS_PER_MATCHER) out.push({ host: hosts.slice(i, i + MAX_HOSTS_PER_MATCHER) });
  return out;
}

/** `entries` in the order the per-route shape would list them (by route id); returns the server's routes. */
export function groupedHostRoutes(entries: readonly HostEntry[]): HttpRoute[] {
  const handlers = new Map<string, HttpHandler>();
  const exact = new Map<string, string[]>();
  const wild = new Map<string, string[]>();
  const wildcardKey = new Map<string, string>();
  const seen = new Set<string>();
  const add = (groups: Map<string, string[]>, key: string, host: string) => {
    const list = groups.get(key);
    if (list) list.push(host);
    else groups.set(key, [host]);
  };
  for (const { domains, handler } of entries) {
    const key = keyOf(handler);
    if (!handlers.has(key)) handlers.set(key, handler);
    for (const host of domains) {
      if (seen.has(host)) continue; // an earlier route already matches it first
      seen.add(host);
      if (host.startsWith('*.')) {
        wildcardKey.set(host, key);
        add(wild, key, host);
        continue;
      }
      const w = wildcardOf(host);
      add(exact, (w !== null && wildcardKey.get(w)) || key, host);
    }
  }
  const routes: HttpRoute[] = [];
  for (const groups of [exact, wild]) {
    for (const [key, hosts] of groups) routes.push({ match: chunks(hosts), handle: [handlers.get(key)!], terminal: true });
  }
  return routes;
}
