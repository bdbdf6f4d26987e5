import { describe, it, expect } from 'vitest';
import { parseBasicAuth, parseHeader, parseLocation, proxyOptionsFrom } from './proxy-options';

describe('proxy option flags', () => {
  it('parses headers, locations and basic-auth users', () => {
    expect(parseHeader('X-Frame-Options: DENY')).toEqual(['X-Frame-Options', 'DENY']);
    expect(parseHeader('X-Empty:')).toEqual(['X-Empty', '']);
    expect(parseHeader('X-A=b=c')).toEqual(['X-A', 'b=c']);
    expect(() => parseHeader('no separator')).toThrow(/Name: value/);
    expect(parseLocation('/api=10.200.0.2:80,[::1]:81')).toEqual({ path: '/api', upstreams: [{ host: '10.200.0.2', port: 80 }, { host: '::1', port: 81 }] });
    expect(() => parseLocation('10.200.0.2:80')).toThrow(/PATH=HOST:PORT/);
    expect(parseBasicAuth('alice:$2a$14$abc')).toEqual({ username: 'alice', passwordHash: '$2a$14$abc' });
    expect(() => parseBasicAuth(':x')).toThrow(/USER:BCRYPT_HASH/);
  });

  it('sends options only for the flags given', () => {
    expect(proxyOptionsFrom({})).toBeUndefined();
    expect(proxyOptionsFrom({ forceHttps: true })).toBeUndefined();
    expect(proxyOptionsFrom({ forceHttps: false })).toEqual({ forceHttps: false });
    expect(proxyOptionsFrom({ maintenance: true, deny: ['10.200.0.1'] })).toEqual({ maintenance: true, access: { deny: ['10.200.0.1'] } });
    expect(proxyOptionsFrom({ removeResponseHeader: ['Server'] })).toEqual({ headers: { response: { remove: ['Server'] } } });
    expect(proxyOptionsFrom({ healthPath: '/healthz', healthInterval: 5, passiveMaxFails: 2 })).toEqual({
      healthChecks: { active: { path: '/healthz', intervalSeconds: 5 }, passive: { maxFails: 2 } },
    });
  });

  it('refuses a check setting without the flag that turns the check on, instead of dropping it', () => {
    expect(() => proxyOptionsFrom({ healthInterval: 10 })).toThrow('--health-interval needs --health-path');
    expect(() => proxyOptionsFrom({ healthTimeout: 2, passiveMaxFails: 3 })).toThrow('--health-timeout needs --health-path');
    expect(() => proxyOptionsFrom({ healthStatus: 204 })).toThrow('--health-status needs --health-path');
    expect(() => proxyOptionsFrom({ passiveFailDuration: 60, healthPath: '/healthz' })).toThrow('--passive-fail-duration needs --passive-max-fails');
    expect(proxyOptionsFrom({ passiveMaxFails: 3, passiveFailDuration: 60 })).toEqual({ healthChecks: { passive: { maxFails: 3, failDurationSeconds: 60 } } });
  });
});
