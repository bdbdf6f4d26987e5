import { describe, it, expect } from 'vitest';
import { routeCreateSchema, type ProxyOptions } from '@caddyfleet/protocol';
import { EMPTY_OPTIONS, optionsInput, optionsState } from './proxyOptionsForm';
import { initialState, validate } from './routeForm';

const HASH = '$2a$14$YstSMejvfVJZAyvDYQNB1ebWKhojlEtdr3uTXfpazFogFxB9Wp6yG';

describe('proxy options form', () => {
  it('sends no options when nothing is set', () => {
    expect(optionsInput(EMPTY_OPTIONS)).toBeNull();
  });

  it('round-trips every option through the form text', () => {
    const options: ProxyOptions = {
      upstreamScheme: 'https',
      skipVerify: true,
      loadBalancing: 'ip_hash',
      healthChecks: { active: { path: '/healthz?full=1', intervalSeconds: 10, timeoutSeconds: 3, expectStatus: 204 }, passive: { maxFails: 2, failDurationSeconds: 45 } },
      locations: [{ path: '/api', upstreams: [{ host: '10.0.0.2', port: 80 }, { host: '::1', port: 81 }] }],
      hsts: true,
      forceHttps: false,
      headers: { request: { set: { 'X-A': 'a: b' }, remove: ['X-Debug'] }, response: { set: { 'X-Frame-Options': 'DENY' } } },
      basicAuth: [{ username: 'alice', passwordHash: HASH }],
      access: { allow: ['10.0.0.0/8'], deny: ['10.0.0.66'] },
      maintenance: true,
    };
    const back = optionsInput(optionsState(options));
    expect(back).toEqual(options);
    expect(routeCreateSchema.parse({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: 'a', port: 1 }], tls: 'auto', options: back })).toMatchObject({ options });
  });

  it('puts problems on the option fields, saying which line or header', () => {
    const s = initialState('proxy', null, '');
    s.domainsText = 'a.test';
    s.upstreams = [{ key: 1, host: '127.0.0.1', port: '80' }];
    s.tls = 'off';
    s.options = { ...EMPTY_OPTIONS, locationsText: '/ok = 10.0.0.1:80\n/bad* = 10.0.0.2:80', responseHeadersText: 'X-Evil: {env.HOME}', allowText: 'nonsense' };
    const r = validate('proxy', s);
    expect('errors' in r && r.errors).toMatchObject({
      'options.locations': expect.stringMatching(/^line 2: must start with \//),
      'options.headers.response': 'X-Evil: must not contain placeholders ({…}) or control characters',
      'options.access.allow': expect.stringMatching(/^line 1: must be an IP address or a CIDR range/),
    });
    // Checks against the rest of the route run once the fields themselves are valid.
    s.options = { ...EMPTY_OPTIONS, hsts: true };
    const hsts = validate('proxy', s);
    expect('errors' in hsts && hsts.errors).toEqual({ 'options.hsts': 'needs HTTPS (tls auto or internal)' });
  });
});
