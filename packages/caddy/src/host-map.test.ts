import { describe, expect, it } from 'vitest';
import type { HttpHandler, HttpRoute } from './caddy-json';
import { groupedHostRoutes, type HostEntry } from './host-map';

const proxy = (port: number): HttpHandler => ({ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${port}` }] });
const dead: HttpHandler = { handler: 'static_response', status_code: 404 };

/** Caddy 2.6's host matching for lists of at most 100 hosts: case-insensitive, `*` is exactly one label. */
function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.includes('*')) return pattern.toLowerCase() === host.toLowerCase();
  const p = pattern.split('.');
  const h = host.split('.');
  return p.length === h.length && p.every((label, i) => label === '*' || label.toLowerCase() === h[i]!.toLowerCase());
}

/** The handler of the first route matching `host`, as Caddy evaluates a server's routes. */
function served(routes: HttpRoute[], host: string): HttpHandler | null {
  for (const r of routes) if (r.match?.some((m) => m.host.some((p) => hostMatches(p, host)))) return r.handle[0]!;
  return null;
}

const perRoute = (entries: HostEntry[]): HttpRoute[] => entries.map((e) => ({ match: [{ host: [...e.domains] }], handle: [e.handler], terminal: true }));

describe('groupedHostRoutes', () => {
  it('gives each distinct handler one route listing all its hosts, in order of first appearance', () => {
    const routes = groupedHostRoutes([
      { domains: ['a.test'], handler: proxy(1) },
      { domains: ['b.test', 'c.test'], handler: proxy(2) },
      { domains: ['d.test'], handler: proxy(1) },
      { domains: ['e.test'], handler: dead },
    ]);
    expect(routes).toEqual([
      { match: [{ host: ['a.test', 'd.test'] }], handle: [proxy(1)], terminal: true },
      { match: [{ host: ['b.test', 'c.test'] }], handle: [proxy(2)], terminal: true },
      { match: [{ host: ['e.test'] }], handle: [dead], terminal: true },
    ]);
  });

  it('keeps every matcher set at 100 hosts or fewer (Caddy matches longer lists case-sensitively)', () => {
    const domains = Array.from({ length: 250 }, (_, i) => `h${i}.test`);
    const [route] = groupedHostRoutes([{ domains, handler: dead }]);
    expect(route!.match!.map((m) => m.host.length)).toEqual([100, 100, 50]);
    expect(route!.match!.flatMap((m) => m.host)).toEqual(domains);
  });

  it('puts wildcards after exact hosts, and an exact host under an earlier wildcard goes where that wildcard goes', () => {
    const entries: HostEntry[] = [
      { domains: ['x.b.test'], handler: proxy(1) },
      { domains: ['*.a.test', '*.b.test'], handler: proxy(2) },
      { domains: ['y.a.test', 'x.b.test', 'z.c.test'], handler: proxy(3) },
    ];
    const routes = groupedHostRoutes(entries);
    expect(served(routes, 'x.b.test')).toEqual(proxy(1));
    expect(served(routes, 'y.a.test')).toEqual(proxy(2));
    expect(served(routes, 'q.b.test')).toEqual(proxy(2));
    expect(served(routes, 'z.c.test')).toEqual(proxy(3));
    expect(routes.at(-1)!.match).toEqual([{ host: ['*.a.test', '*.b.test'] }]);
    // The shadowed host still appears in a matcher (Caddy's automatic HTTPS manages the names it finds there).
    expect(routes.flatMap((r) => r.match!.flatMap((m) => m.host))).toContain('y.a.test');
  });

  it('routes every host like one route per entry would, on a generated table with overlaps', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const handlers = [proxy(1), proxy(2), proxy(3), dead, { handler: 'static_response', status_code: 301, headers: { Location: ['https://x/'] } }];
    const names = Array.from({ length: 60 }, (_, i) => `n${i}.z${i % 4}.test`);
    const wilds = ['*.z0.test', '*.z1.test', '*.z2.test'];
    const used = new Set<string>();
    const entries: HostEntry[] = [];
    for (let i = 0; i < 40; i++) {
      const domains: string[] = [];
      for (let k = 0; k < 1 + rand(3); k++) {
        const d = rand(5) === 0 ? wilds[rand(wilds.length)]! : names[rand(names.length)]!;
        if (!used.has(d)) domains.push(d);
        used.add(d);
      }
      if (domains.length) entries.push({ domains, handler: handlers[rand(handlers.length)]! });
    }
    const grouped = groupedHostRoutes(entries);
    const reference = perRoute(entries);
    for (const host of [...names, 'other.z0.test', 'N1.Z1.TEST', 'nope.test', 'a.b.z1.test']) {
      expect(served(grouped, host), host).toEqual(served(reference, host));
    }
    expect(grouped.length).toBeLessThanOrEqual(2 * handlers.length);
  });
});
