import { describe, it, expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { redirectTls } from './route-add';
import { upstreamHealthSummary } from './routes';

const health = (...verdicts: (boolean | null)[]): Route['upstreamHealth'] =>
  verdicts.map((healthy, i) => ({ host: '127.0.0.1', port: 9000 + i, location: null, healthy, fails: 0, numRequests: 0, checkedAt: null }));

const proxy = (upstreamHealth: Route['upstreamHealth'], checked = true) =>
  ({ kind: 'proxy', upstreamHealth, options: checked ? { healthChecks: { passive: { maxFails: 3 } } } : undefined }) as Route;

describe('upstreamHealthSummary', () => {
  it('counts healthy upstreams, and says unknown when nothing is known', () => {
    expect(upstreamHealthSummary(proxy(health(true, false, true)))).toBe('2/3 healthy');
    expect(upstreamHealthSummary(proxy(health(false, false)))).toBe('0/2 healthy');
    expect(upstreamHealthSummary(proxy(health(true, null)))).toBe('1/2 healthy, 1 unknown');
    expect(upstreamHealthSummary(proxy(health(null, null)))).toBe('unknown');
  });

  it('is empty without health checks or without upstream health', () => {
    expect(upstreamHealthSummary(proxy(health(null, null), false))).toBe('');
    expect(upstreamHealthSummary(proxy(undefined))).toBe('');
    expect(upstreamHealthSummary({ kind: 'redirect' } as Route)).toBe('');
  });
});

describe('redirectTls (--http-port-only)', () => {
  it('means --tls off, and refuses a contradicting --tls', () => {
    expect(redirectTls({})).toBeUndefined();
    expect(redirectTls({ tls: 'internal' })).toBe('internal');
    expect(redirectTls({ httpPortOnly: true })).toBe('off');
    expect(redirectTls({ httpPortOnly: true, tls: 'off' })).toBe('off');
    expect(() => redirectTls({ httpPortOnly: true, tls: 'auto' })).toThrow('--http-port-only means --tls off; it cannot be combined with --tls auto');
  });
});
