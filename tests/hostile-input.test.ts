import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES, TestStore, snapshot, type TestController } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';

interface Case {
  name: string;
  method?: 'POST' | 'PATCH' | 'DELETE' | 'GET';
  url?: string;
  /** An object is sent as JSON; a string is sent verbatim as the payload. */
  body?: unknown;
  as?: 'admin' | 'viewer' | 'none' | 'badtoken';
  headers?: Record<string, string>;
  status: number;
  code: string;
}

const proxy = (over: Record<string, unknown> = {}) => ({ kind: 'proxy', domains: ['ok.example.com'], upstreams: [{ host: '127.0.0.1', port: 8080 }], ...over });

const CASES: Case[] = [
  { name: 'empty body', body: '', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'no body at all', headers: { 'x-requested-with': 'caddyfleet' }, status: 400, code: 'validation_failed' },
  { name: 'body-less cookie POST without X-Requested-With', method: 'POST', url: '/nodes/local/revoke', status: 403, code: 'csrf_rejected' },
  { name: 'cookie POST from another port', headers: { origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site' }, body: proxy(), status: 403, code: 'csrf_rejected' },
  { name: '5 MB body', body: JSON.stringify(proxy({ pad: 'x'.repeat(5 * 1024 * 1024) })), headers: { 'content-type': 'application/json' }, status: 413, code: 'payload_too_large' },
  { name: 'malformed JSON', body: '{"kind": "proxy",', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'form-encoded body', body: 'kind=proxy', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported_media_type' },
  { name: 'JSON sent as text/plain', body: JSON.stringify(proxy()), headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'body-less revoke posted as text/plain', method: 'POST', url: '/nodes/local/revoke', body: '', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' },
  { name: 'malformed escape in the URL', method: 'GET', url: '/routes/%E0', status: 400, code: 'bad_request' },
  { name: 'malformed session cookie', as: 'none', headers: { cookie: 'cf_session=%E0' }, body: proxy(), status: 401, code: 'unauthorized' },
  { name: 'JSON array instead of object', body: [proxy()], status: 400, code: 'validation_failed' },
  { name: 'Caddy placeholder in a domain', body: proxy({ domains: ['{http.request.uri}'] }), status: 400, code: 'validation_failed' },
  { name: 'placeholder in an upstream host', body: proxy({ upstreams: [{ host: '{env.SECRET}', port: 80 }] }), status: 400, code: 'validation_failed' },
  { name: 'placeholder in a redirect target', body: { kind: 'redirect', domains: ['r.example.com'], redirect: { to: 'https://x.example.com/{http.request.header.Cookie}' } }, status: 400, code: 'validation_failed' },
  { name: 'path traversal in a domain', body: proxy({ domains: ['example.com/../x'] }), status: 400, code: 'validation_failed' },
  { name: 'homoglyph (Cyrillic а) domain', body: proxy({ domains: ['exаmple.com'] }), status: 400, code: 'validation_failed' },
  { name: 'raw IDN domain', body: proxy({ domains: ['bücher.example'] }), status: 400, code: 'validation_failed' },
  { name: 'bad_host! domain', body: proxy({ domains: ['bad_host!'] }), status: 400, code: 'validation_failed' },
  { name: 'wildcard in the middle', body: proxy({ domains: ['a.*.example.com'] }), status: 400, code: 'validation_failed' },
  { name: 'label longer than 63', body: proxy({ domains: [`${'a'.repeat(64)}.example.com`] }), status: 400, code: 'validation_failed' },
  { name: 'empty domain list', body: proxy({ domains: [] }), status: 400, code: 'validation_failed' },
  { name: 'negative port', body: proxy({ upstreams: [{ host: '127.0.0.1', port: -1 }] }), status: 400, code: 'validation_failed' },
  { name: 'huge port', body: proxy({ upstreams: [{ host: '127.0.0.1', port: 70000 }] }), status: 400, code: 'validation_failed' },
  { name: 'port as a string', body: proxy({ upstreams: [{ host: '127.0.0.1', port: '80' }] }), status: 400, code: 'validation_failed' },
  { name: 'fractional port', body: proxy({ upstreams: [{ host: '127.0.0.1', port: 80.5 }] }), status: 400, code: 'validation_failed' },
  { name: 'SQL quotes in a domain', body: proxy({ domains: ["x'; DROP TABLE routes; --.example.com"] }), status: 400, code: 'validation_failed' },
  { name: 'SQL quotes in a tenant name are data, but braces are not', url: '/tenants', body: { name: "Robert'); {DROP}" }, status: 400, code: 'validation_failed' },
  { name: 'unknown field', body: proxy({ admin: true }), status: 400, code: 'validation_failed' },
  { name: 'origin set by the client', body: proxy({ origin: 'docker' }), status: 400, code: 'validation_failed' },
  { name: 'unknown kind', body: proxy({ kind: 'layer7' }), status: 400, code: 'validation_failed' },
  { name: 'wrong type for domains', body: proxy({ domains: 'ok.example.com' }), status: 400, code: 'validation_failed' },
  { name: 'redirect to javascript:', body: { kind: 'redirect', domains: ['r.example.com'], redirect: { to: 'javascript:alert(1)' } }, status: 400, code: 'validation_failed' },
  { name: 'relative redirect target', body: { kind: 'redirect', domains: ['r.example.com'], redirect: { to: '/elsewhere' } }, status: 400, code: 'validation_failed' },
  { name: 'redirect status 200', body: { kind: 'redirect', domains: ['r.example.com'], redirect: { to: 'https://a.example.com', status: 200 } }, status: 400, code: 'validation_failed' },
  { name: 'stream with domains', body: { kind: 'stream', listen: { port: 9000 }, upstreams: [{ host: 'a', port: 1 }], domains: ['s.example.com'] }, status: 400, code: 'validation_failed' },
  { name: 'upstream host with a port inside', body: proxy({ upstreams: [{ host: '127.0.0.1:80', port: 80 }] }), status: 400, code: 'validation_failed' },
  { name: 'prototype pollution key', body: '{"kind":"proxy","domains":["p.example.com"],"upstreams":[{"host":"a","port":1}],"__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' },
  { name: 'duplicate domain', body: proxy({ domains: ['taken.example.com'] }), status: 409, code: 'domain_conflict' },
  { name: 'duplicate domain in other case', body: proxy({ domains: ['TAKEN.example.com'] }), status: 409, code: 'domain_conflict' },
  { name: 'same domain twice in one route', body: proxy({ domains: ['twice.example.com', 'twice.example.com'] }), status: 400, code: 'validation_failed' },
  { name: 'same stream port and protocol', body: { kind: 'stream', listen: { port: 7000 }, upstreams: [{ host: 'a', port: 1 }] }, status: 409, code: 'listen_conflict' },
  { name: 'unknown node', body: proxy({ nodeId: 'node_doesnotexist' }), status: 400, code: 'validation_failed' },
  { name: 'local_only scope from the central API', body: proxy({ scope: 'local_only' }), status: 403, code: 'route_scope_local_only' },
  { name: 'viewer trying to write', as: 'viewer', body: proxy(), status: 403, code: 'forbidden' },
  { name: 'viewer trying to delete', as: 'viewer', method: 'DELETE', url: '/routes/EXISTING', status: 403, code: 'forbidden' },
  { name: 'no auth', as: 'none', body: proxy(), status: 401, code: 'unauthorized' },
  { name: 'bad bearer token', as: 'badtoken', body: proxy(), status: 401, code: 'invalid_token' },
  { name: 'patch an unknown route', method: 'PATCH', url: '/routes/rt_nope', body: { enabled: false }, status: 404, code: 'not_found' },
  { name: 'patch with a field of another kind', method: 'PATCH', url: '/routes/EXISTING', body: { redirect: { to: 'https://a.example.com' } }, status: 400, code: 'validation_failed' },
  { name: 'patch into a conflict', method: 'PATCH', url: '/routes/EXISTING', body: { domains: ['taken.example.com'] }, status: 409, code: 'domain_conflict' },
  { name: 'organization under a missing tenant', url: '/organizations', body: { name: 'x', tenantId: 'ten_missing' }, status: 400, code: 'validation_failed' },
  { name: 'overlong name', url: '/tenants', body: { name: 'n'.repeat(101) }, status: 400, code: 'validation_failed' },
  { name: 'id with path characters', method: 'GET', url: '/routes/..%2F..%2Fetc', status: 400, code: 'validation_failed' },
  { name: 'unknown query parameter', method: 'GET', url: '/routes?drop=1', status: 400, code: 'validation_failed' },
  { name: 'enroll with garbage token', url: '/agent/enroll', as: 'none', body: { token: 'cfe_garbage-garbage', name: 'x', hostname: 'x' }, status: 401, code: 'enrollment_token_invalid' },
  { name: 'enrollment TTL below a minute', url: '/sites/SITE/enrollment-tokens', body: { ttlSeconds: 1 }, status: 400, code: 'validation_failed' },
];

let pg: PostgresHandle;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

describe.each(STORES)('hostile input on %s', (kind) => {
  let store: TestStore;
  let t: TestController;
  const headers: Record<string, Record<string, string>> = {};
  let existingRoute = '';
  let siteId = '';

  beforeAll(async () => {
    store = await TestStore.create(kind, pg);
    t = await store.start();
    headers.admin = await t.login();
    const admin = t.client(headers.admin);
    expect((await admin.post('/users', { username: 'viewer', password: 'viewer-password-123', role: 'viewer' })).status).toBe(201);
    headers.viewer = await t.login('viewer', 'viewer-password-123');
    headers.none = {};
    headers.badtoken = { authorization: 'Bearer cft_this-is-not-a-real-token' };
    expect((await admin.post('/routes', proxy({ domains: ['taken.example.com'] }))).status).toBe(201);
    existingRoute = (await admin.post('/routes', proxy({ domains: ['mine.example.com'] }))).body.id;
    expect((await admin.post('/routes', { kind: 'stream', listen: { port: 7000 }, upstreams: [{ host: 'a', port: 1 }] })).status).toBe(201);
    siteId = (await admin.get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  it('has at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES)('$name → $status $code, nothing changed', async (c) => {
    const before = await snapshot(t);
    const url = (c.url ?? '/routes').replace('EXISTING', existingRoute).replace('SITE', siteId);
    const hdrs = { ...headers[c.as ?? 'admin'], ...c.headers };
    const opts = typeof c.body === 'string' ? { payload: c.body, headers: hdrs } : { body: c.body, headers: hdrs };
    const res = await t.request(c.method ?? 'POST', url, opts);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(c.status);
    expect(res.body?.error?.code).toBe(c.code);
    expect(typeof res.body.error.message).toBe('string');
    expect(await snapshot(t)).toBe(before);
  });
});
