import { describe, it, expect } from 'vitest';
import { agentFrameSchema, MAX_CADDY_MODULES } from './agent';
import { routeCreateSchema, routePatchSchema } from './routes';

const stream = { kind: 'stream', listen: { port: 8443, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.1', port: 9443 }] };

describe('stream options', () => {
  it('accepts server names (lower-cased, wildcards allowed) and a PROXY protocol version', () => {
    const parsed = routeCreateSchema.parse({ ...stream, sni: ['A.Example.com', '*.b.example.com'], proxyProtocol: 'v2' });
    expect(parsed).toMatchObject({ sni: ['a.example.com', '*.b.example.com'], proxyProtocol: 'v2' });
    expect(routeCreateSchema.parse({ ...stream, proxyProtocol: null })).toMatchObject({ proxyProtocol: null });
  });

  it('refuses server names on udp, repeated or unsafe names, and unknown PROXY versions, naming the field', () => {
    const issue = (body: object) => {
      const r = routeCreateSchema.safeParse(body);
      return r.success ? null : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    expect(issue({ ...stream, listen: { port: 53, protocol: 'udp' }, sni: ['a.test'] })).toBe('sni: server names (TLS SNI) need a tcp listener');
    expect(issue({ ...stream, sni: ['a.test', 'A.test'] })).toMatch(/^sni: server name a\.test is listed twice/);
    expect(issue({ ...stream, sni: ['{env.HOME}'] })).toMatch(/^sni\.0: domain must not contain placeholders/);
    expect(issue({ ...stream, proxyProtocol: 'v3' })).toMatch(/^proxyProtocol: /);
    expect(issue({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: '127.0.0.1', port: 1 }], sni: ['a.test'] })).toMatch(/sni/);
  });

  it('lets a patch set or clear them', () => {
    expect(routePatchSchema.parse({ sni: ['a.test'], proxyProtocol: null })).toEqual({ sni: ['a.test'], proxyProtocol: null });
  });
});

describe('hello capabilities', () => {
  const hello = { type: 'hello', protocolVersion: 1, agentVersion: '0.1.0', caddyVersion: 'v2.11.9', appliedRevision: 0 };

  it('accepts an optional module list and listener ports (older agents send neither)', () => {
    expect(agentFrameSchema.safeParse(hello).success).toBe(true);
    expect(agentFrameSchema.safeParse({ ...hello, caddyModules: ['layer4', 'http.handlers.reverse_proxy'], listeners: { http: 80, https: 443 } }).success).toBe(true);
  });

  it("still accepts an older agent's layer4 flag, and nothing else in its place", () => {
    for (const layer4 of [true, false]) expect(agentFrameSchema.safeParse({ ...hello, capabilities: { layer4 } }).success).toBe(true);
    expect(agentFrameSchema.safeParse({ ...hello, capabilities: { layer4: 'yes' } }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ ...hello, capabilities: { layer4: true, http3: true } }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ ...hello, capabilities: null }).success).toBe(false);
  });

  it('bounds the module list and refuses ids that are not module ids', () => {
    expect(agentFrameSchema.safeParse({ ...hello, caddyModules: Array.from({ length: MAX_CADDY_MODULES + 1 }, (_, i) => `m${i}`) }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ ...hello, caddyModules: ['layer4 extra'] }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ ...hello, caddyModules: ['x'.repeat(201)] }).success).toBe(false);
    expect(agentFrameSchema.safeParse({ ...hello, listeners: { http: 0, https: 443 } }).success).toBe(false);
  });

  it('parses a certificates frame and refuses unknown kinds', () => {
    const cert = { subjects: ['a.test'], issuer: 'Caddy Local Authority - ECC Intermediate', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2026-01-02T00:00:00.000Z', kind: 'internal' };
    expect(agentFrameSchema.safeParse({ type: 'certificates', certificates: [cert] }).success).toBe(true);
    expect(agentFrameSchema.safeParse({ type: 'certificates', certificates: [{ ...cert, kind: 'stolen' }] }).success).toBe(false);
  });
});
