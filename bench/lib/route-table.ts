/**
 * A generated, deterministic route table for the benchmark: mostly proxies that share a limited number of
 * upstream sets (as a real fleet does: many sites behind few backends), some redirects, some 404 hosts, a few
 * multi-domain routes. Every route is tls 'off': tls 'auto' would make Caddy contact an ACME CA, and
 * 'internal' would have it mint thousands of certificates while we time its loads.
 */
import type { Route, RouteCreateInput } from '@caddyfleet/protocol';

export interface TableOptions {
  /** Upstream ports on 127.0.0.1 the proxy routes point at. */
  ports: number[];
  /** Domain prefix, so tables of different runs/nodes do not collide. */
  prefix?: string;
}

const STATUSES = [301, 302, 307, 308] as const;

export function tableInputs(count: number, opts: TableOptions): RouteCreateInput[] {
  const prefix = opts.prefix ?? 'h';
  const sets = Math.max(4, Math.round(count / 25));
  const setOf = (k: number) => {
    const a = opts.ports[k % opts.ports.length]!;
    const b = opts.ports[(k + 1) % opts.ports.length]!;
    // A third of the sets have two upstreams (load-balanced), the rest one.
    return k % 3 === 0 && a !== b ? [{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }] : [{ host: '127.0.0.1', port: a }];
  };
  const out: RouteCreateInput[] = [];
  for (let i = 0; i < count; i++) {
    const domain = `${prefix}${String(i).padStart(5, '0')}.shape.test`;
    const slot = i % 20;
    if (slot === 0 || slot === 10) {
      out.push({ kind: 'redirect', domains: [domain], redirect: { to: `https://target-${i % 50}.example.net/${i % 7 === 0 ? 'x/' : ''}`, status: STATUSES[i % 4]!, preservePath: i % 3 !== 0 }, tls: 'off' });
    } else if (slot === 5) {
      out.push({ kind: 'dead', domains: [domain], tls: 'off' });
    } else if (slot === 15) {
      out.push({ kind: 'proxy', domains: [domain, `www.${domain}`], upstreams: setOf(i % sets), tls: 'off' });
    } else {
      out.push({ kind: 'proxy', domains: [domain], upstreams: setOf(i % sets), tls: 'off' });
    }
  }
  return out;
}

/** The same table as stored routes (what an agent receives), with sortable ids. */
export function tableRoutes(count: number, opts: TableOptions): Route[] {
  const now = new Date(0).toISOString();
  return tableInputs(count, opts).map((input, i) => ({
    id: `rt_${String(i).padStart(6, '0')}`,
    kind: input.kind,
    domains: 'domains' in input ? input.domains : [],
    listen: null,
    upstreams: 'upstreams' in input ? input.upstreams : [],
    redirect: input.kind === 'redirect' ? { to: input.redirect.to, status: input.redirect.status ?? 301, preservePath: input.redirect.preservePath ?? true } : null,
    nodeId: 'node_bench',
    siteId: 'site_bench',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: input.tls ?? 'off',
    createdAt: now,
    updatedAt: now,
    revision: i + 1,
    lastError: null,
  }));
}
