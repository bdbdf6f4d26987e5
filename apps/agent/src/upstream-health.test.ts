import { describe, expect, it } from 'vitest';
import type { UpstreamReport } from '@caddyfleet/protocol';
import { reportChange } from './upstream-health';

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
