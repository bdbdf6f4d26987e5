import { describe, expect, it } from 'vitest';
import type { Route } from '../api/types';
import { upstreamHealthLines } from './upstreamHealth';

const AT = '2026-01-01T00:00:00.000Z';

function route(fields: Partial<Route> = {}): Route {
  return {
    id: 'r1',
    kind: 'proxy',
    domains: ['shop.test'],
    listen: null,
    upstreams: [
      { host: '10.200.1.5', port: 80 },
      { host: '10.200.1.6', port: 80 },
    ],
    redirect: null,
    nodeId: 'n1',
    siteId: 's1',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: 'off',
    createdAt: AT,
    updatedAt: AT,
    revision: 1,
    lastError: null,
    options: { healthChecks: { active: { path: '/healthz', intervalSeconds: 10, timeoutSeconds: 5 } } },
    upstreamHealth: [
      { host: '10.200.1.5', port: 80, location: null, healthy: true, fails: 0, numRequests: 0, checkedAt: AT },
      { host: '10.200.1.6', port: 80, location: null, healthy: false, fails: 2, numRequests: 0, checkedAt: AT },
      { host: '2001:db8::7', port: 81, location: '/api', healthy: null, fails: null, numRequests: null, checkedAt: null },
    ],
    ...fields,
  };
}

const online = { status: 'online' as const, name: 'edge-1' };

describe('upstreamHealthLines', () => {
  it("shows Caddy's verdict per upstream, locations labelled with their path", () => {
    const lines = upstreamHealthLines(route(), online);
    expect(lines.map((l) => [l.label, l.state])).toEqual([
      ['10.200.1.5:80', 'healthy'],
      ['10.200.1.6:80', 'unhealthy'],
      ['/api → [2001:db8::7]:81', 'unknown'],
    ]);
    expect(lines[1]!.title).toMatch(/2 failed requests/);
  });

  it('is unknown while the server is not connected, and unchecked without health checks', () => {
    expect(upstreamHealthLines(route(), { status: 'offline', name: 'edge-1' }).map((l) => l.state)).toEqual(['unknown', 'unknown', 'unknown']);
    expect(upstreamHealthLines(route(), { status: 'offline', name: 'edge-1' })[0]!.title).toMatch(/edge-1 is not connected/);
    expect(upstreamHealthLines(route({ options: { loadBalancing: 'first' } }), online).map((l) => l.state)).toEqual(['unchecked', 'unchecked', 'unchecked']);
  });

  it('lists the plain upstreams when the API gave no health', () => {
    const { upstreamHealth: _h, ...bare } = route();
    expect(upstreamHealthLines(bare, online).map((l) => [l.label, l.state])).toEqual([
      ['10.200.1.5:80', 'unknown'],
      ['10.200.1.6:80', 'unknown'],
    ]);
  });
});
