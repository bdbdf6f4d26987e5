import { describe, expect, it } from 'vitest';
import { agentFrameSchema } from './agent';
import { routeUpstreamHealth, upstreamAddress, type NodeUpstreamHealth, type UpstreamReport } from './upstream-health';

const AT = '2026-01-01T00:00:00.000Z';

function node(reports: UpstreamReport[], connected = true): NodeUpstreamHealth {
  return { connected, reportedAt: AT, byAddress: new Map(reports.map((r) => [r.address, r])) };
}

const up = (address: string, healthy: boolean | null, fails = 0): UpstreamReport => ({ address, healthy, fails, numRequests: 0 });
const active = { active: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1 } };

function proxy(fields: Record<string, unknown> = {}) {
  return {
    kind: 'proxy',
    enabled: true,
    lastError: null,
    upstreams: [
      { host: '10.200.1.5', port: 80 },
      { host: '10.200.1.6', port: 80 },
    ],
    options: { healthChecks: active },
    ...fields,
  };
}

describe('routeUpstreamHealth', () => {
  it("gives each upstream the node's verdict, locations after the main upstreams", () => {
    const report = node([up('10.200.1.5:80', true), up('10.200.1.6:80', false, 4), up('[2001:db8::7]:81', true)]);
    const route = proxy({ options: { healthChecks: active, locations: [{ path: '/api', upstreams: [{ host: '2001:db8::7', port: 81 }] }] } });
    expect(routeUpstreamHealth(route, report)).toEqual([
      { host: '10.200.1.5', port: 80, location: null, healthy: true, fails: 0, numRequests: 0, checkedAt: AT },
      { host: '10.200.1.6', port: 80, location: null, healthy: false, fails: 4, numRequests: 0, checkedAt: AT },
      { host: '2001:db8::7', port: 81, location: '/api', healthy: true, fails: 0, numRequests: 0, checkedAt: AT },
    ]);
  });

  it('is unknown without health checks, for an offline node, a disabled or unserved route, and an unreported upstream', () => {
    const report = node([up('10.200.1.5:80', true)]);
    const healthy = (route: ReturnType<typeof proxy>, n: NodeUpstreamHealth | undefined) => routeUpstreamHealth(route, n)!.map((u) => u.healthy);
    expect(healthy(proxy(), report)).toEqual([true, null]);
    expect(healthy(proxy({ options: { loadBalancing: 'first' } }), report)).toEqual([null, null]);
    expect(healthy(proxy({ options: undefined }), report)).toEqual([null, null]);
    expect(healthy(proxy(), node([up('10.200.1.5:80', true)], false))).toEqual([null, null]);
    expect(healthy(proxy({ enabled: false }), report)).toEqual([null, null]);
    expect(healthy(proxy({ lastError: 'not served' }), report)).toEqual([null, null]);
    expect(healthy(proxy(), undefined)).toEqual([null, null]);
    // What was last reported stays visible, dated, even while the verdict is unknown.
    expect(routeUpstreamHealth(proxy(), node([up('10.200.1.5:80', true, 2)], false))![0]).toMatchObject({ healthy: null, fails: 2, checkedAt: AT });
    expect(routeUpstreamHealth(proxy(), report)![1]).toMatchObject({ healthy: null, fails: null, checkedAt: null });
  });

  it('applies passive checks to the failure count, fresher than Caddy\'s verdict', () => {
    const passive = { options: { healthChecks: { passive: { maxFails: 3, failDurationSeconds: 30 } } } };
    const report = node([up('10.200.1.5:80', true, 3), up('10.200.1.6:80', true, 2)]);
    expect(routeUpstreamHealth(proxy(passive), report)!.map((u) => u.healthy)).toEqual([false, true]);
  });

  it('is absent for other kinds', () => {
    expect(routeUpstreamHealth(proxy({ kind: 'stream' }), node([]))).toBeUndefined();
  });

  it('spells addresses as Caddy dials them', () => {
    expect(upstreamAddress('10.200.1.5', 80)).toBe('10.200.1.5:80');
    expect(upstreamAddress('2001:db8::7', 81)).toBe('[2001:db8::7]:81');
  });
});

describe('upstream-health frame', () => {
  it('accepts a report and refuses a bad address, a negative count or an unknown key', () => {
    const frame = { type: 'upstream-health', upstreams: [up('10.200.1.5:80', false, 1), up('[2001:db8::7]:81', null)] };
    expect(agentFrameSchema.safeParse(frame).success).toBe(true);
    const bad = (u: Record<string, unknown>) => agentFrameSchema.safeParse({ type: 'upstream-health', upstreams: [{ ...up('10.200.1.5:80', true), ...u }] }).success;
    expect(bad({ address: '{env.X}:80' })).toBe(false);
    expect(bad({ address: 'a b:80' })).toBe(false);
    expect(bad({ fails: -1 })).toBe(false);
    expect(bad({ extra: 1 })).toBe(false);
    expect(bad({ healthy: 'yes' })).toBe(false);
  });
});
