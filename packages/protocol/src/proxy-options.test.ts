import { describe, it, expect } from 'vitest';
import { routeCreateSchema } from './routes';

const base = { kind: 'proxy', domains: ['app.test'], upstreams: [{ host: '127.0.0.1', port: 3000 }], tls: 'off' };
const HASH = '$2a$14$YstSMejvfVJZAyvDYQNB1ebWKhojlEtdr3uTXfpazFogFxB9Wp6yG';

function problems(options: unknown, extra: object = {}): string[] {
  const r = routeCreateSchema.safeParse({ ...base, ...extra, options });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('proxy host options', () => {
  it('accepts every option and normalises location paths', () => {
    const parsed = routeCreateSchema.parse({
      ...base,
      tls: 'auto',
      options: {
        upstreamScheme: 'https',
        skipVerify: true,
        loadBalancing: 'least_conn',
        locations: [{ path: '/api/', upstreams: [{ host: '10.0.0.2', port: 8080 }] }],
        hsts: true,
        headers: { request: { set: { 'X-Forwarded-Proto': 'https' }, remove: ['X-Debug'] }, response: { set: { 'X-Frame-Options': 'DENY' } } },
        basicAuth: [{ username: 'alice', passwordHash: HASH }],
        access: { allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'], deny: ['10.0.0.66'] },
        maintenance: false,
      },
    });
    expect(parsed.kind === 'proxy' && parsed.options?.locations?.[0]?.path).toBe('/api');
  });

  it('refuses placeholders and broken values, naming the field', () => {
    expect(problems({ headers: { request: { set: { 'X-A': '{env.SECRET}' } } } })).toEqual(['options.headers.request.set.X-A: must not contain placeholders ({…}) or control characters']);
    expect(problems({ headers: { response: { set: { 'Bad Header': 'x' } } } })[0]).toMatch(/^options\.headers\.response\.set\.Bad Header: is not a valid header name/);
    expect(problems({ headers: { request: { set: { 'X-A': 'line\r\nInjected: 1' } } } })[0]).toMatch(/control characters/);
    expect(problems({ locations: [{ path: '/api/*', upstreams: [{ host: 'a', port: 1 }] }] })[0]).toMatch(/^options\.locations\.0\.path: must start with \//);
    expect(problems({ locations: [{ path: '/{path}', upstreams: [{ host: 'a', port: 1 }] }] })[0]).toMatch(/^options\.locations\.0\.path/);
    expect(problems({ locations: [{ path: '/a', upstreams: [{ host: 'a', port: 1 }] }, { path: '/a/', upstreams: [{ host: 'b', port: 1 }] }] })).toEqual([
      'options.locations.1: path /a is listed twice',
    ]);
    expect(problems({ basicAuth: [{ username: 'alice', passwordHash: 'hunter2' }] })[0]).toMatch(/^options\.basicAuth\.0\.passwordHash: must be a bcrypt hash/);
    expect(problems({ basicAuth: [{ username: 'a:b', passwordHash: HASH }] })[0]).toMatch(/^options\.basicAuth\.0\.username/);
    expect(problems({ basicAuth: [{ username: 'a', passwordHash: HASH }, { username: 'a', passwordHash: HASH }] })).toEqual(['options.basicAuth.1: user a is listed twice']);
    expect(problems({ access: { allow: ['10.0.0.0/33'] } })[0]).toMatch(/^options\.access\.allow\.0: must be an IP address or a CIDR range/);
    expect(problems({ loadBalancing: 'fastest' })[0]).toMatch(/^options\.loadBalancing/);
    expect(problems({ unknown: true })[0]).toMatch(/^options: /);
  });

  it('refuses options that contradict the route', () => {
    expect(problems({ skipVerify: true })).toEqual(['options.skipVerify: only applies to https upstreams']);
    expect(problems({ hsts: true })).toEqual(['options.hsts: needs HTTPS (tls auto or internal)']);
    expect(problems({ hsts: true }, { tls: 'internal' })).toEqual([]);
    expect(problems({ forceHttps: false })).toEqual(['options.forceHttps: needs HTTPS (tls auto or internal)']);
    expect(routeCreateSchema.safeParse({ kind: 'dead', domains: ['a.test'], options: { maintenance: true } }).success).toBe(false);
  });
});
