import { describe, expect, it } from 'vitest';
import { domainSchema, hostnameProblem, nameSchema, redirectUrlSchema, upstreamHostSchema } from './validators';
import { routeCreateSchema } from './routes';
import { agentFrameSchema, closeReason, controllerFrameSchema } from './agent';
import { LIMITS } from './limits';
import { isLoopbackUrl } from './fleet';

describe('hostnameProblem', () => {
  it.each([
    ['example.com', true],
    ['a.b-c.example', true],
    ['xn--bcher-kva.example', true],
    ['localhost', true],
    ['*.example.com', true],
    ['-a.example.com', false],
    ['a-.example.com', false],
    ['a..example.com', false],
    ['a.*.example.com', false],
    ['*', false],
    ['exa mple.com', false],
    ['under_score.com', false],
    ['bücher.example', false],
    [`${'a'.repeat(63)}.com`, true],
    [`${'a'.repeat(64)}.com`, false],
    [Array(64).fill('abc').join('.'), false],
  ])('%s valid=%s', (host, valid) => {
    expect(hostnameProblem(host, true) === null).toBe(valid);
  });

  it('refuses wildcards where they are not allowed', () => {
    expect(hostnameProblem('*.example.com', false)).toMatch(/wildcard/);
  });

  it('suggests the punycode form of an IDN', () => {
    expect(hostnameProblem('bücher.example', true)).toContain('xn--bcher-kva.example');
  });
});

describe('domainSchema', () => {
  it('lower-cases and trims', () => {
    expect(domainSchema.parse('  App.Example.COM ')).toBe('app.example.com');
  });
  it('refuses placeholders', () => {
    expect(domainSchema.safeParse('{http.request.host}').success).toBe(false);
  });
});

describe('upstreamHostSchema', () => {
  it.each(['127.0.0.1', '::1', '[::1]', 'fe80::1', 'backend', 'db.internal'])('accepts %s', (h) => {
    expect(upstreamHostSchema.safeParse(h).success).toBe(true);
  });
  it('strips IPv6 brackets', () => {
    expect(upstreamHostSchema.parse('[::1]')).toBe('::1');
  });
  it.each(['127.0.0.1:80', 'http://x', '{env.X}', '*.x.com', '', 'a b'])('refuses %s', (h) => {
    expect(upstreamHostSchema.safeParse(h).success).toBe(false);
  });
});

describe('redirectUrlSchema', () => {
  it.each(['https://example.com', 'http://example.com/a?b=c'])('accepts %s', (u) => expect(redirectUrlSchema.safeParse(u).success).toBe(true));
  it.each(['ftp://x.com', '/relative', 'javascript:alert(1)', 'https://x.com/{path}', 'https://x.com/a b', 'https://bücher.example/'])('refuses %s', (u) =>
    expect(redirectUrlSchema.safeParse(u).success).toBe(false),
  );
});

describe('nameSchema', () => {
  it('trims and refuses empty, braces and control characters', () => {
    expect(nameSchema.parse('  Edge 1 ')).toBe('Edge 1');
    expect(nameSchema.safeParse('   ').success).toBe(false);
    expect(nameSchema.safeParse('a{b}').success).toBe(false);
    expect(nameSchema.safeParse('a\u0000b').success).toBe(false);
  });
});

describe('routeCreateSchema', () => {
  it('fills defaults per kind', () => {
    expect(routeCreateSchema.parse({ kind: 'redirect', domains: ['a.com'], redirect: { to: 'https://b.com' } })).toEqual({
      kind: 'redirect',
      domains: ['a.com'],
      redirect: { to: 'https://b.com', status: 301, preservePath: true },
      nodeId: null,
      scope: 'exclusive',
      enabled: true,
      tls: 'auto',
    });
    expect(routeCreateSchema.parse({ kind: 'stream', listen: { port: 53, protocol: 'udp' }, upstreams: [{ host: '::1', port: 53 }] }).tls).toBe('off');
  });
  it('refuses fields of another kind', () => {
    expect(routeCreateSchema.safeParse({ kind: 'dead', domains: ['a.com'], upstreams: [] }).success).toBe(false);
    expect(routeCreateSchema.safeParse({ kind: 'stream', listen: { port: 1 }, upstreams: [{ host: 'a', port: 1 }], tls: 'auto' }).success).toBe(false);
  });
});

describe('frames', () => {
  it('parses a hello and refuses unknown types and extra fields', () => {
    const hello = { type: 'hello', protocolVersion: 1, agentVersion: '0.1.0', caddyVersion: 'v2.6.2', appliedRevision: 3 };
    expect(agentFrameSchema.safeParse(hello).success).toBe(true);
    expect(agentFrameSchema.safeParse({ ...hello, extra: 1 }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ type: 'sync', revision: 1, routes: [] }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ type: 'sync', revision: 1, routes: [] }).success).toBe(true);
    expect(agentFrameSchema.safeParse({ type: 'ack', revision: -1, ok: true }).success).toBe(false);
  });

  it('parses deltas within their limits, moving forward only, and resync requests', () => {
    const delta = { type: 'delta', base: 4, revision: 6, upsert: [], remove: ['rt_1'] };
    expect(controllerFrameSchema.safeParse(delta).success).toBe(true);
    expect(controllerFrameSchema.safeParse({ ...delta, revision: 4 }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ ...delta, remove: [''] }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ ...delta, remove: ['x'.repeat(65)] }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ ...delta, remove: Array.from({ length: LIMITS.routesPerDelta + 1 }, (_, i) => `r${i}`) }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ ...delta, upsert: [{ id: 'x' }] }).success).toBe(false);
    expect(agentFrameSchema.safeParse(delta).success, 'controller-only').toBe(false);
    expect(agentFrameSchema.safeParse({ type: 'resync', revision: 3 }).success).toBe(true);
    expect(agentFrameSchema.safeParse({ type: 'resync', revision: -3 }).success).toBe(false);
    expect(controllerFrameSchema.safeParse({ type: 'resync', revision: 3 }).success).toBe(false);
  });
});

describe('closeReason', () => {
  it('keeps short reasons and cuts long multi-byte ones on a character boundary within 123 bytes', () => {
    expect(closeReason('bye')).toBe('bye');
    for (const text of ['x'.repeat(200), 'a' + '日'.repeat(100), '😀'.repeat(60)]) {
      const r = closeReason(text);
      expect(Buffer.byteLength(r)).toBeLessThanOrEqual(123);
      expect(r).not.toContain('\uFFFD');
      expect(r.endsWith('...')).toBe(true);
    }
  });
});

describe('isLoopbackUrl', () => {
  it('flags addresses other hosts cannot reach', () => {
    for (const u of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://fleet.localhost', 'http://127.1.2.3']) expect(isLoopbackUrl(u), u).toBe(true);
    for (const u of ['https://fleet.example.com', 'http://10.200.1.1:8080', 'http://[2001:db8::1]:80', 'not a url']) expect(isLoopbackUrl(u), u).toBe(false);
  });
});
