import { describe, it, expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { proxyHostHandler } from './proxy-host';
import { requiredModules } from './modules';

const HASH = '$2a$14$YstSMejvfVJZAyvDYQNB1ebWKhojlEtdr3uTXfpazFogFxB9Wp6yG';
const route = (options?: Route['options']): Route => ({
  id: 'r1',
  kind: 'proxy',
  domains: ['app.test'],
  listen: null,
  upstreams: [{ host: '127.0.0.1', port: 3000 }],
  redirect: null,
  nodeId: null,
  siteId: 's',
  scope: 'exclusive',
  origin: 'central',
  enabled: true,
  tls: 'auto',
  createdAt: '',
  updatedAt: '',
  revision: 1,
  lastError: null,
  ...(options ? { options } : {}),
});

describe('proxyHostHandler', () => {
  it('renders a bare reverse_proxy without options (unchanged from before options existed)', () => {
    expect(proxyHostHandler(route())).toEqual({ handler: 'reverse_proxy', upstreams: [{ dial: '127.0.0.1:3000' }] });
  });

  it('orders access lists, maintenance, auth, headers, locations (longest first) and the main upstreams', () => {
    const h = proxyHostHandler(
      route({
        access: { allow: ['10.0.0.0/8'], deny: ['10.0.0.66'] },
        maintenance: true,
        basicAuth: [{ username: 'alice', passwordHash: HASH }],
        hsts: true,
        headers: { request: { remove: ['X-Debug'] } },
        locations: [
          { path: '/api', upstreams: [{ host: '10.0.0.2', port: 80 }] },
          { path: '/api/v2', upstreams: [{ host: '10.0.0.3', port: 80 }] },
        ],
        loadBalancing: 'ip_hash',
        upstreamScheme: 'https',
        skipVerify: true,
      }),
    );
    expect(h.handler).toBe('subroute');
    const routes = h.routes as { match?: unknown[]; handle: { handler: string; [k: string]: unknown }[]; terminal?: boolean }[];
    expect(routes.map((r) => r.handle[0]!.handler)).toEqual(['static_response', 'static_response', 'static_response', 'authentication', 'headers', 'reverse_proxy', 'reverse_proxy', 'reverse_proxy']);
    expect(routes[0]).toMatchObject({ match: [{ remote_ip: { ranges: ['10.0.0.66'] } }], terminal: true, handle: [{ status_code: 403 }] });
    expect(routes[1]).toMatchObject({ match: [{ not: [{ remote_ip: { ranges: ['10.0.0.0/8'] } }] }], terminal: true });
    expect(routes[2]).toMatchObject({ handle: [{ status_code: 503 }], terminal: true });
    const auth = routes[3]!.handle[0] as unknown as { providers: { http_basic: { accounts: { username: string; password: string }[] } } };
    expect(auth.providers.http_basic.accounts).toEqual([{ username: 'alice', password: Buffer.from(HASH).toString('base64') }]);
    expect(routes[4]!.handle[0]).toEqual({
      handler: 'headers',
      request: { delete: ['X-Debug'] },
      response: { set: { 'Strict-Transport-Security': ['max-age=31536000; includeSubDomains'] }, deferred: true },
    });
    expect(routes[5]!.match).toEqual([{ path: ['/api/v2', '/api/v2/*'] }]);
    expect(routes[6]!.match).toEqual([{ path: ['/api', '/api/*'] }]);
    expect(routes[7]!.handle[0]).toEqual({
      handler: 'reverse_proxy',
      upstreams: [{ dial: '127.0.0.1:3000' }],
      load_balancing: { selection_policy: { policy: 'ip_hash' } },
      transport: { protocol: 'http', tls: { insecure_skip_verify: true } },
    });
    expect(routes[7]!.terminal).toBeUndefined();
  });

  it('renders active and passive health checks on the main upstreams only', () => {
    const h = proxyHostHandler(
      route({
        healthChecks: { active: { path: '/healthz', intervalSeconds: 2, timeoutSeconds: 1, expectStatus: 204 }, passive: { maxFails: 3, failDurationSeconds: 60 } },
        locations: [{ path: '/api', upstreams: [{ host: '10.0.0.2', port: 80 }] }],
      }),
    );
    const routes = h.routes as { handle: Record<string, unknown>[] }[];
    expect(routes.at(-1)!.handle[0]!.health_checks).toEqual({
      active: { uri: '/healthz', interval: '2s', timeout: '1s', expect_status: 204 },
      passive: { max_fails: 3, fail_duration: '60s' },
    });
    expect(routes.at(-2)!.handle[0]).not.toHaveProperty('health_checks');
  });

  it('names the modules its options need', () => {
    expect(requiredModules({ kind: 'proxy', options: { basicAuth: [{ username: 'a', passwordHash: HASH }], loadBalancing: 'least_conn' } })).toEqual([
      'http.handlers.reverse_proxy',
      'http.handlers.subroute',
      'http.handlers.authentication',
      'http.authentication.providers.http_basic',
      'http.authentication.hashes.bcrypt',
      'http.reverse_proxy.selection_policies.least_conn',
    ]);
  });
});
