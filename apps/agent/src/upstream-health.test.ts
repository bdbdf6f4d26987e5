import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { buildCaddyConfig, type CaddyAdmin, type CaddyConfig } from '@caddyfleet/caddy';
import type { AgentFrame, Route, UpstreamReport } from '@caddyfleet/protocol';
import { reportChange, UpstreamHealthMonitor } from './upstream-health';

const up = (address: string, healthy: boolean | null, fails = 0, numRequests = 0): UpstreamReport => ({ address, healthy, fails, numRequests });

describe('reportChange', () => {
  const before = [up('10.200.1.5:80', true), up('10.200.1.6:80', false, 2)];

  it('is a state change for the first report, a verdict, a failure count or the set of upstreams', () => {
    expect(reportChange(null, [])).toBe('state');
    expect(reportChange(before, [up('10.200.1.5:80', false), up('10.200.1.6:80', false, 2)])).toBe('state');
    expect(reportChange(before, [up('10.200.1.5:80', true), up('10.200.1.6:80', false, 3)])).toBe('state');
    expect(reportChange(before, [up('10.200.1.5:80', true)])).toBe('state');
    expect(reportChange(before, [up('10.200.1.5:80', true), up('10.200.1.7:80', false, 2)])).toBe('state');
    expect(reportChange(before, [up('10.200.1.5:80', null), up('10.200.1.6:80', false, 2)])).toBe('state');
  });

  it('tells in-flight counts apart from nothing at all', () => {
    expect(reportChange(before, [up('10.200.1.5:80', true, 0, 7), up('10.200.1.6:80', false, 2)])).toBe('counts');
    expect(reportChange(before, [up('10.200.1.5:80', true), up('10.200.1.6:80', false, 2)])).toBe('none');
  });
});

describe('UpstreamHealthMonitor', () => {
  const build = (routes: Route[]) => buildCaddyConfig(routes, { httpListen: ':80', httpsListen: ':443', adminListen: 'unix//run/caddy/admin.sock', layer4: false }).config;
  const route = (id: string, port: number, options?: Route['options']): Route => ({
    id,
    kind: 'proxy',
    domains: [`${id}.test`],
    listen: null,
    upstreams: [{ host: '10.200.1.5', port }],
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
    ...(options ? { options } : {}),
  });
  const checks = { healthChecks: { active: { path: '/healthz', intervalSeconds: 5, timeoutSeconds: 2 } } };

  /** A monitor over a stand-in for Caddy's admin API that counts what it is asked. */
  function monitorOf(config: CaddyConfig) {
    const calls = { upstreams: 0, metrics: 0 };
    const sent: AgentFrame[] = [];
    const admin = {
      reverseProxyUpstreams: async () => {
        calls.upstreams++;
        return [{ address: '10.200.1.5:80', num_requests: 0, fails: 0 }];
      },
      metrics: async () => {
        calls.metrics++;
        return 'caddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.5:80"} 1\ncaddy_reverse_proxy_upstreams_healthy{upstream="10.200.1.5:81"} 0\n';
      },
    } as unknown as CaddyAdmin;
    let t = 0;
    const monitor = new UpstreamHealthMonitor({
      admin,
      config: () => config,
      loads: () => 1,
      connection: () => ({ connected: true, connects: 1, send: (f) => sent.push(f) > 0 }),
      log: pino({ enabled: false }),
      // Past the distrust period after a load, so `healthy` verdicts count.
      now: () => (t += 60_000),
    });
    return { monitor, calls, sent };
  }

  it('does not read /metrics when no proxy has health checks, and reports no verdict', async () => {
    const { monitor, calls, sent } = monitorOf(build([route('a', 80), route('b', 81)]));
    await monitor.poll();
    await monitor.poll();
    expect(calls).toEqual({ upstreams: 2, metrics: 0 });
    expect(sent).toHaveLength(1);
    expect(monitor.current).toEqual([up('10.200.1.5:80', null), up('10.200.1.5:81', null)]);
  });

  it("reads /metrics every round once a proxy has health checks, for Caddy's verdicts", async () => {
    const { monitor, calls } = monitorOf(build([route('a', 80), route('b', 81, checks)]));
    await monitor.poll();
    await monitor.poll();
    expect(calls).toEqual({ upstreams: 2, metrics: 2 });
    expect(monitor.current).toEqual([up('10.200.1.5:80', true), up('10.200.1.5:81', false)]);
  });
});
