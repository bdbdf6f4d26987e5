import { describe, expect, it } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig } from './build-config';
import { combineUpstreamHealth, parseHealthyGauges, parseUpstreamPool, reverseProxyDials, reverseProxyTargets } from './upstream-status';

/** As Caddy 2.11.9's admin `GET /metrics` writes it (other families shortened). */
const METRICS = `# HELP caddy_admin_http_requests_total Counter of requests made to the Admin API's HTTP endpoints.
# TYPE caddy_admin_http_requests_total counter
caddy_admin_http_requests_total{code="200",handler="metrics",method="GET",path="/metrics"} 3
# HELP caddy_reverse_proxy_upstreams_healthy Health status of reverse proxy upstreams.
# TYPE caddy_reverse_proxy_upstreams_healthy gauge
caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.5:8080"} 0
caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.6:8080"} 1
caddy_reverse_proxy_upstreams_healthy{upstream="[2001:db8::5]:80"} 0
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 27`;

describe('parseHealthyGauges', () => {
  it("reads Caddy's verdict per dial address, IPv6 included, and nothing else", () => {
    expect(parseHealthyGauges(METRICS)).toEqual(
      new Map([
        ['10.200.1.5:8080', false],
        ['10.200.1.6:8080', true],
        ['[2001:db8::5]:80', false],
      ]),
    );
  });

  it('unescapes label values, reads other labels and timestamps, and skips lines that are not samples', () => {
    const text = [
      'caddy_reverse_proxy_upstreams_healthy{handler="a",upstream="10.200.1.7:80"} 1 1700000000000',
      'caddy_reverse_proxy_upstreams_healthy{upstream="we\\"ird\\\\x"} 0',
      'caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.8:80"} NaN',
      'caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.9:80"',
      'xcaddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.10:80"} 0',
      '  caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.11:80"} 0',
    ].join('\n');
    expect(parseHealthyGauges(text)).toEqual(
      new Map([
        ['10.200.1.7:80', true],
        ['we"ird\\x', false],
      ]),
    );
  });

  it('is empty for text without the metric', () => {
    expect(parseHealthyGauges('')).toEqual(new Map());
    expect(parseHealthyGauges('# HELP caddy_reverse_proxy_upstreams_healthy Health status\n')).toEqual(new Map());
  });
});

describe('parseUpstreamPool', () => {
  it('reads the counters of GET /reverse_proxy/upstreams and skips malformed entries', () => {
    const json = [
      { address: '10.200.1.5:8080', num_requests: 2, fails: 3 },
      { address: '10.200.1.6:8080', num_requests: -1, fails: 'x' },
      { num_requests: 1 },
      null,
      'x',
    ];
    expect(parseUpstreamPool(json)).toEqual(
      new Map([
        ['10.200.1.5:8080', { fails: 3, numRequests: 2 }],
        ['10.200.1.6:8080', { fails: 0, numRequests: 0 }],
      ]),
    );
    expect(parseUpstreamPool({ error: 'x' })).toEqual(new Map());
  });
});

function proxy(id: string, fields: Partial<Route>): Route {
  return {
    id,
    kind: 'proxy',
    domains: [`${id}.test`],
    listen: null,
    upstreams: [],
    redirect: null,
    nodeId: null,
    siteId: 'site1',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: 'off',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    revision: 1,
    lastError: null,
    ...fields,
  };
}

describe('reverseProxyDials', () => {
  it('lists the upstreams of bare proxies, of proxies with options and of their locations, once each, sorted', () => {
    const { config } = buildCaddyConfig(
      [
        proxy('a', { upstreams: [{ host: '10.200.1.6', port: 80 }, { host: '10.200.1.5', port: 80 }] }),
        proxy('b', {
          upstreams: [{ host: '10.200.1.5', port: 80 }],
          options: {
            healthChecks: { active: { path: '/healthz', intervalSeconds: 5, timeoutSeconds: 2 } },
            locations: [{ path: '/api', upstreams: [{ host: '2001:db8::9', port: 9000 }] }],
            maintenance: true,
          },
        }),
        proxy('c', { kind: 'redirect', upstreams: [], redirect: { to: 'https://example.com', status: 301, preservePath: true } }),
      ],
      { httpListen: ':80', httpsListen: ':443', adminListen: 'unix//run/caddy/admin.sock', layer4: false },
    );
    expect(reverseProxyDials(config)).toEqual(['10.200.1.5:80', '10.200.1.6:80', '[2001:db8::9]:9000']);
  });

  it('ignores anything outside the HTTP app and tolerates any shape', () => {
    expect(reverseProxyDials({ apps: { layer4: { servers: { s: { routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '10.200.1.1:1' }] }] }] } } } } })).toEqual([]);
    expect(reverseProxyDials(null)).toEqual([]);
    expect(reverseProxyDials({ apps: { http: { servers: { s: { routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: 5 }, null] }] }] } } } } })).toEqual([]);
  });
});

describe('reverseProxyTargets', () => {
  const build = (routes: Route[]) => buildCaddyConfig(routes, { httpListen: ':80', httpsListen: ':443', adminListen: 'unix//run/caddy/admin.sock', layer4: false }).config;
  const bare = proxy('a', { upstreams: [{ host: '10.200.1.5', port: 80 }] });

  it('says whether any proxy has health checks, active or passive only', () => {
    expect(reverseProxyTargets(build([bare]))).toEqual({ dials: ['10.200.1.5:80'], healthChecked: false });
    const active = proxy('b', { upstreams: [{ host: '10.200.1.6', port: 80 }], options: { healthChecks: { active: { path: '/healthz', intervalSeconds: 5, timeoutSeconds: 2 } } } });
    expect(reverseProxyTargets(build([bare, active]))).toEqual({ dials: ['10.200.1.5:80', '10.200.1.6:80'], healthChecked: true });
    const passive = proxy('c', { upstreams: [{ host: '10.200.1.7', port: 80 }], options: { healthChecks: { passive: { maxFails: 3, failDurationSeconds: 30 } } } });
    expect(reverseProxyTargets(build([passive])).healthChecked).toBe(true);
  });

  it('does not count a proxy that only has other options, or health checks outside the HTTP app', () => {
    const located = proxy('d', { upstreams: [{ host: '10.200.1.5', port: 80 }], options: { loadBalancing: 'round_robin', locations: [{ path: '/api', upstreams: [{ host: '10.200.1.8', port: 80 }] }] } });
    expect(reverseProxyTargets(build([located])).healthChecked).toBe(false);
    const layer4 = { apps: { layer4: { servers: { s: { routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: '10.200.1.1:1' }], health_checks: { active: {} } }] }] } } } } };
    expect(reverseProxyTargets(layer4)).toEqual({ dials: [], healthChecked: false });
  });
});

describe('combineUpstreamHealth', () => {
  const pool = new Map([['10.200.1.5:80', { fails: 2, numRequests: 1 }]]);

  it("takes Caddy's verdict, else the previous one, else unknown; counters default to 0", () => {
    const gauges = new Map([
      ['10.200.1.5:80', false],
      ['10.200.1.99:80', true],
    ]);
    const previous = new Map<string, boolean | null>([['10.200.1.6:80', true]]);
    expect(combineUpstreamHealth(['10.200.1.5:80', '10.200.1.6:80', '10.200.1.7:80'], pool, gauges, previous)).toEqual([
      { address: '10.200.1.5:80', healthy: false, fails: 2, numRequests: 1 },
      { address: '10.200.1.6:80', healthy: true, fails: 0, numRequests: 0 },
      { address: '10.200.1.7:80', healthy: null, fails: 0, numRequests: 0 },
    ]);
  });

  it('right after a load, believes only unhealthy verdicts (the gauge starts at 1 before the first check)', () => {
    const gauges = new Map([
      ['10.200.1.5:80', false],
      ['10.200.1.6:80', true],
      ['10.200.1.7:80', true],
    ]);
    const previous = new Map<string, boolean | null>([['10.200.1.6:80', false]]);
    const healthy = combineUpstreamHealth(['10.200.1.5:80', '10.200.1.6:80', '10.200.1.7:80'], pool, gauges, previous, true).map((u) => u.healthy);
    expect(healthy).toEqual([false, false, null]);
  });

  it('leaves out addresses the protocol would refuse', () => {
    expect(combineUpstreamHealth(['{http.x}:80', '10.200.1.5:80'], pool, new Map())).toEqual([{ address: '10.200.1.5:80', healthy: null, fails: 2, numRequests: 1 }]);
  });
});
