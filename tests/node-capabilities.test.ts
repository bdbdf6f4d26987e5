/**
 * What an agent reports about its Caddy (modules, listener ports, certificates) and what the controller does with
 * it, on SQLite and PostgreSQL: 409 node_lacks_module for a route the node cannot serve, 409 listen_conflict for a
 * stream on the node's HTTP/HTTPS ports or on a port (and server name) another stream holds, the node resource and
 * the certificates view. The agent here is a WebSocket peer speaking the protocol (the real agent and Caddy are
 * in streams-e2e.test.ts); the controller and the databases are real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NO_LAYER4_REASON } from '@caddyfleet/caddy';
import { PROTOCOL_VERSION } from '@caddyfleet/protocol';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD, STORES, TestController, TestStore, snapshot } from './helpers/controller';
import { startPostgres, type PostgresHandle } from './helpers/postgres';
import { waitFor } from './helpers/processes';

const BASE_MODULES = ['http', 'http.handlers.reverse_proxy', 'http.handlers.static_response', 'tls'];
const LAYER4_MODULES = ['layer4', 'layer4.handlers.proxy', 'layer4.matchers.tls', 'layer4.proxy.selection_policies.round_robin', 'tls.handshake_match.sni'];

let pg: PostgresHandle;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
});

describe.each(STORES)('node capabilities on %s', (kind) => {
  let store: TestStore;
  let t: TestController;
  let api: ReturnType<TestController['client']>;
  let base: string;
  let siteId: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    store = await TestStore.create(kind, pg);
    const config = loadConfig(
      'server',
      { listen: '127.0.0.1:0', dataDir: store.dir.path, databaseUrl: store.databaseUrl, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' },
      {},
    );
    t = new TestController(await startController(config, { announce: () => {} }));
    base = t.c.url.replace('http', 'ws') + '/api/v1/agent/connect';
    api = t.client(await t.login());
    siteId = (await api.get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await t?.close();
    await store?.dispose();
  });

  /** Enrolls a node and connects a peer that says hello with `extra`; resolves once the controller stored it. */
  async function node(name: string, extra: Record<string, unknown>): Promise<{ id: string; ws: WebSocket }> {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const { nodeId, agentKey } = (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name, hostname: `${name}.test` } })).body;
    const ws = new WebSocket(base, { headers: { authorization: `Bearer ${agentKey}` } });
    sockets.push(ws);
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', () => reject(new Error('upgrade refused')));
    });
    ws.send(
      JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: 'test', caddyVersion: 'v2.11.9', appliedRevision: 0, ...extra }),
    );
    await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'online', { description: `${name} online` });
    return { id: nodeId, ws };
  }

  const stream = (nodeId: string, port: number, extra: Record<string, unknown> = {}) => ({
    kind: 'stream',
    nodeId,
    listen: { port, protocol: 'tcp' },
    upstreams: [{ host: '127.0.0.1', port: 9 }],
    ...extra,
  });

  it('stores the reported modules and listeners on the node, and null for an agent that reports none', async () => {
    const l4 = await node('caps-l4', { caddyModules: [...LAYER4_MODULES, ...BASE_MODULES, 'layer4'], listeners: { http: 8080, https: 8443 } });
    const got = (await api.get(`/nodes/${l4.id}`)).body;
    expect(got.caddyModules).toEqual([...new Set([...LAYER4_MODULES, ...BASE_MODULES])].sort());
    expect(got.listeners).toEqual({ http: 8080, https: 8443 });
    // An older agent's hello: no module list, and its layer4 flag is accepted but not taken for one.
    const older = await node('caps-old', { capabilities: { layer4: true } });
    const old = (await api.get(`/nodes/${older.id}`)).body;
    expect(old).toMatchObject({ caddyModules: null, listeners: null });
    expect(old).not.toHaveProperty('capabilities');
    const listed = (await api.get('/nodes')).body.find((n: { id: string }) => n.id === l4.id);
    expect(listed.caddyModules).toContain('layer4');
  });

  it('refuses a stream for a node without layer4 with 409 node_lacks_module, changing nothing; accepts it where the modules are unknown', async () => {
    const plain = await node('caps-plain', { caddyModules: BASE_MODULES, listeners: { http: 80, https: 443 } });
    const before = await snapshot(t);
    const r = await api.post('/routes', stream(plain.id, 5432));
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4', nodeId: plain.id } });
    expect(r.body.error.message).toBe(
      'the Caddy of node caps-plain has no module layer4, which this stream route needs (stream routes need a Caddy built with caddy-l4: scripts/build-caddy.sh)',
    );
    // In a batch the whole batch is refused, naming the operation.
    const batch = await api.post('/routes/batch', { create: [{ kind: 'dead', nodeId: plain.id, domains: ['ok.caps.test'] }, stream(plain.id, 5433)] });
    expect(batch.status).toBe(409);
    expect(batch.body.error.message).toMatch(/^create\[1\]: /);
    expect(await snapshot(t)).toBe(before);
    // HTTP routes are fine there.
    expect((await api.post('/routes', { kind: 'dead', nodeId: plain.id, domains: ['fine.caps.test'] })).status).toBe(201);

    // The module list decides, whatever flag an older agent sends beside it.
    const flagged = await node('caps-flagged', { caddyModules: BASE_MODULES, capabilities: { layer4: true } });
    expect((await api.post('/routes', stream(flagged.id, 5432))).body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4' } });

    const unknown = await node('caps-unknown', { capabilities: { layer4: false } });
    const accepted = await api.post('/routes', stream(unknown.id, 5432));
    expect(accepted.status).toBe(201);
    expect(accepted.body.lastError).toBeNull();
  });

  it('refuses moving a stream to a node without layer4, and enabling a disabled one there', async () => {
    const l4 = await node('caps-mv-l4', { caddyModules: [...BASE_MODULES, ...LAYER4_MODULES] });
    const plain = await node('caps-mv-plain', { caddyModules: BASE_MODULES });
    const route = (await api.post('/routes', stream(l4.id, 6000))).body;
    const move = await api.patch(`/routes/${route.id}`, { nodeId: plain.id });
    expect(move.status).toBe(409);
    expect(move.body.error.code).toBe('node_lacks_module');
    expect((await api.get(`/routes/${route.id}`)).body.nodeId).toBe(l4.id);
    const parked = await api.post('/routes', stream(plain.id, 6001, { enabled: false }));
    expect(parked.status).toBe(201);
    // What its node lacks is noted on it at once, from the module list.
    expect(parked.body.lastError).toBe(NO_LAYER4_REASON);
    expect((await api.patch(`/routes/${parked.body.id}`, { enabled: true })).status).toBe(409);
    // Server names need the TLS matcher too.
    const noTls = await node('caps-no-tls', { caddyModules: [...BASE_MODULES, 'layer4', 'layer4.handlers.proxy'] });
    const sni = await api.post('/routes', stream(noTls.id, 6002, { sni: ['a.caps.test'] }));
    expect(sni.body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4.matchers.tls' } });
    const sniParked = await api.post('/routes', stream(noTls.id, 6002, { sni: ['a.caps.test'], enabled: false }));
    expect(sniParked.body.lastError).toBe(sni.body.error.message);
  });

  it("refuses a stream on the node's HTTP/HTTPS ports and on a port another stream holds with the same or no server name", async () => {
    const n = await node('caps-ports', { caddyModules: [...BASE_MODULES, ...LAYER4_MODULES], listeners: { http: 8080, https: 8443 } });
    const refused = async (body: object) => {
      const r = await api.post('/routes', body);
      expect(r.status, JSON.stringify(body)).toBe(409);
      expect(r.body.error.code).toBe('listen_conflict');
      return r.body.error;
    };
    expect((await refused(stream(n.id, 8080))).message).toBe("tcp port 8080 is already used on this node by the node's HTTP listener");
    expect((await refused(stream(n.id, 8443))).message).toMatch(/HTTPS listener/);
    expect((await refused(stream(n.id, 8443, { listen: { port: 8443, protocol: 'udp' } }))).message).toMatch(/HTTP\/3/);
    // UDP on the HTTP port is free (Caddy's plain HTTP has no UDP listener).
    expect((await api.post('/routes', stream(n.id, 8080, { listen: { port: 8080, protocol: 'udp' } }))).status).toBe(201);

    const a = (await api.post('/routes', stream(n.id, 7000, { sni: ['a.caps.test', 'x.caps.test'] }))).body;
    const b = await api.post('/routes', stream(n.id, 7000, { sni: ['b.caps.test'] }));
    expect(b.status).toBe(201);
    expect((await refused(stream(n.id, 7000, { sni: ['c.caps.test', 'x.caps.test'] }))).details).toMatchObject({ sni: 'x.caps.test', routeId: a.id });
    expect((await refused(stream(n.id, 7000))).details).toMatchObject({ port: 7000, protocol: 'tcp' });
    const whole = (await api.post('/routes', stream(n.id, 7001))).body;
    expect((await refused(stream(n.id, 7001, { sni: ['d.caps.test'] }))).details).toMatchObject({ routeId: whole.id });
    // Changing a route's own names keeps its port; another route's names stay taken.
    expect((await api.patch(`/routes/${a.id}`, { sni: ['a.caps.test'] })).status).toBe(200);
    expect((await api.patch(`/routes/${b.body.id}`, { sni: ['x.caps.test'] })).status).toBe(200);
    expect((await api.patch(`/routes/${b.body.id}`, { sni: ['a.caps.test'] })).status).toBe(409);
    // Dropping the names makes it a catch-all, which the port cannot take while a still holds names there.
    expect((await api.patch(`/routes/${b.body.id}`, { sni: [] })).status).toBe(409);
    expect((await api.get(`/routes/${b.body.id}`)).body.sni).toEqual(['x.caps.test']);
    expect((await api.patch(`/routes/${b.body.id}`, { proxyProtocol: 'v2' })).body).toMatchObject({ proxyProtocol: 'v2', sni: ['x.caps.test'] });
    expect((await api.patch(`/routes/${b.body.id}`, { proxyProtocol: null })).body).not.toHaveProperty('proxyProtocol');
    expect((await api.patch(`/routes/${b.body.id}`, { sni: ['y'], listen: { port: 53, protocol: 'udp' } })).body.error).toMatchObject({
      code: 'validation_failed',
      details: [{ path: 'sni', message: 'server names (TLS SNI) need a tcp listener' }],
    });
  });

  it('lets only one of two racing streams take a port (a catch-all and a named one)', async () => {
    const n = await node('caps-race', { caddyModules: [...BASE_MODULES, ...LAYER4_MODULES] });
    for (let round = 0; round < 5; round++) {
      const port = 7100 + round;
      const results = await Promise.all([api.post('/routes', stream(n.id, port)), api.post('/routes', stream(n.id, port, { sni: ['r.caps.test'] }))]);
      expect(results.map((r) => r.status).sort(), `round ${round}`).toEqual([201, 409]);
      const held = (await api.get(`/routes?nodeId=${n.id}&kind=stream`)).body.filter((r: { listen: { port: number } }) => r.listen.port === port);
      expect(held).toHaveLength(1);
    }
  });

  it('stores proxy host options, patches them as a whole, and refuses ones whose modules the node lacks', async () => {
    const HASH = '$2a$14$YstSMejvfVJZAyvDYQNB1ebWKhojlEtdr3uTXfpazFogFxB9Wp6yG';
    const n = await node('caps-options', { caddyModules: [...BASE_MODULES, 'http.handlers.subroute', 'http.handlers.headers', 'http.matchers.path'] });
    const body = {
      kind: 'proxy',
      nodeId: n.id,
      domains: ['opts.caps.test'],
      upstreams: [{ host: '127.0.0.1', port: 3000 }],
      tls: 'off',
      options: { headers: { response: { set: { 'X-Frame-Options': 'DENY' } } }, locations: [{ path: '/api/', upstreams: [{ host: '127.0.0.1', port: 3001 }] }] },
    };
    const created = await api.post('/routes', body);
    expect(created.status).toBe(201);
    expect(created.body.options).toEqual({ headers: { response: { set: { 'X-Frame-Options': 'DENY' } } }, locations: [{ path: '/api', upstreams: [{ host: '127.0.0.1', port: 3001 }] }] });
    expect((await api.get(`/routes/${created.body.id}`)).body.options).toEqual(created.body.options);
    // Basic auth needs the authentication handler, which this node's module list lacks.
    const auth = await api.patch(`/routes/${created.body.id}`, { options: { basicAuth: [{ username: 'alice', passwordHash: HASH }] } });
    expect(auth.status).toBe(409);
    expect(auth.body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'http.handlers.authentication' } });
    const bad = await api.patch(`/routes/${created.body.id}`, { options: { headers: { request: { set: { 'X-A': '{env.SECRET}' } } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ path: 'options.headers.request.set.X-A', message: 'must not contain placeholders ({…}) or control characters' }]);
    const replaced = await api.patch(`/routes/${created.body.id}`, { options: { maintenance: true } });
    expect(replaced.body.options).toEqual({ maintenance: true });
    const cleared = await api.patch(`/routes/${created.body.id}`, { options: null });
    expect(cleared.body).not.toHaveProperty('options');
    expect((await api.patch(`/routes/${created.body.id}`, { sni: ['x.test'] })).body.error).toMatchObject({ code: 'validation_failed', message: 'invalid body: sni: not a field of proxy routes' });
  });

  it('keeps the certificates an agent reports and serves them soonest expiry first; certCount follows', async () => {
    const n = await node('caps-certs', { caddyModules: BASE_MODULES });
    expect((await api.get(`/nodes/${n.id}/certificates`)).body).toEqual({ nodeId: n.id, reportedAt: null, certificates: [] });
    const cert = (subject: string, notAfter: string, kind: 'managed' | 'internal') => ({
      subjects: [subject],
      issuer: kind === 'internal' ? 'Caddy Local Authority - ECC Intermediate' : "Let's Encrypt R11",
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter,
      kind,
    });
    n.ws.send(
      JSON.stringify({
        type: 'certificates',
        certificates: [cert('late.test', '2027-03-01T00:00:00.000Z', 'managed'), cert('soon.test', '2026-12-10T00:00:00.000Z', 'internal'), cert('mid.test', '2027-01-01T00:00:00.000Z', 'managed')],
      }),
    );
    const view = await waitFor(async () => {
      const v = (await api.get(`/nodes/${n.id}/certificates`)).body;
      return v.certificates.length === 3 ? v : null;
    });
    expect(view.certificates.map((c: { subjects: string[] }) => c.subjects[0])).toEqual(['soon.test', 'mid.test', 'late.test']);
    expect(view.certificates[0]).toMatchObject({ kind: 'internal', issuer: 'Caddy Local Authority - ECC Intermediate' });
    expect(Date.parse(view.reportedAt)).not.toBeNaN();
    expect((await api.get(`/nodes/${n.id}`)).body.certCount).toBe(3);
    // Without a session nobody can read them; the endpoint is documented.
    expect((await t.request('GET', `/nodes/${n.id}/certificates`)).status).toBe(401);
    const doc = (await api.get('/openapi.json')).body;
    expect(doc.paths['/api/v1/nodes/{id}/certificates'].get.summary).toMatch(/certificates/);
  });

  it('closes the connection of an agent that sends a malformed module list, and stores nothing from it', async () => {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const { nodeId, agentKey } = (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name: 'caps-bad', hostname: 'caps-bad.test' } })).body;
    const ws = new WebSocket(base, { headers: { authorization: `Bearer ${agentKey}` } });
    sockets.push(ws);
    ws.on('error', () => {});
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: 't', caddyVersion: null, appliedRevision: 0, caddyModules: ['layer4; rm -rf /'] }));
    expect(await closed).toBe(4001);
    // Time for a status write the close might have queued (batched, flushed at once when urgent).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await api.get(`/nodes/${nodeId}`)).body).toMatchObject({ status: 'pending', caddyModules: null });
  });

  it('marks a node offline when a connection that fails its hello replaces the online one', async () => {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const { nodeId, agentKey } = (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name: 'caps-replaced', hostname: 'caps-replaced.test' } })).body;
    const connect = async () => {
      const ws = new WebSocket(base, { headers: { authorization: `Bearer ${agentKey}` } });
      sockets.push(ws);
      ws.on('error', () => {});
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      await new Promise((resolve) => ws.once('open', resolve));
      return { ws, closed };
    };
    const hello = { type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: 't', caddyVersion: null, appliedRevision: 0 };
    const first = await connect();
    first.ws.send(JSON.stringify(hello));
    await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'online', { description: 'caps-replaced online' });
    const second = await connect();
    second.ws.send(JSON.stringify({ ...hello, caddyModules: ['layer4; rm -rf /'] }));
    expect(await second.closed).toBe(4001);
    expect(await first.closed).not.toBe(1000);
    await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'offline', { description: 'caps-replaced offline' });
  });

  it("brings a route's module note in line when the node's Caddy is replaced by one with other modules", async () => {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const { nodeId, agentKey } = (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name: 'caps-swap', hostname: 'caps-swap.test' } })).body;
    let ws: WebSocket | null = null;
    /** The agent comes back with another Caddy: a new connection whose hello reports `modules`. */
    const reconnect = async (modules: string[] | undefined) => {
      if (ws) {
        const old = ws;
        const gone = new Promise((resolve) => old.once('close', resolve));
        old.close();
        await gone;
        await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'offline', { description: 'caps-swap offline' });
      }
      ws = new WebSocket(base, { headers: { authorization: `Bearer ${agentKey}` } });
      sockets.push(ws);
      ws.on('error', () => {});
      await new Promise((resolve) => ws!.once('open', resolve));
      ws.send(JSON.stringify({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: 't', caddyVersion: 'v2', appliedRevision: 0, ...(modules ? { caddyModules: modules } : {}) }));
      await waitFor(async () => (await api.get(`/nodes/${nodeId}`)).body.status === 'online', { description: 'caps-swap online' });
    };
    const noteOf = async (id: string) => (await api.get(`/routes/${id}`)).body.lastError as string | null;

    await reconnect(BASE_MODULES);
    const parked = (await api.post('/routes', stream(nodeId, 6100, { enabled: false }))).body;
    const named = (await api.post('/routes', stream(nodeId, 6101, { enabled: false, sni: ['n.caps.test'] }))).body;
    const page = (await api.post('/routes', { kind: 'dead', nodeId, domains: ['parked.caps.test'], enabled: false })).body;
    expect([parked.lastError, named.lastError, page.lastError]).toEqual([NO_LAYER4_REASON, NO_LAYER4_REASON, null]);

    // A layer4 build without the TLS matcher: the plain stream is fine now, the named one lacks that matcher.
    await reconnect([...BASE_MODULES, 'layer4', 'layer4.handlers.proxy']);
    await waitFor(async () => (await noteOf(parked.id)) === null, { description: 'the plain stream no longer noted' });
    expect(await noteOf(named.id)).toBe('the Caddy of node caps-swap has no module layer4.matchers.tls, which this stream route needs (stream routes need a Caddy built with caddy-l4: scripts/build-caddy.sh)');
    await reconnect([...BASE_MODULES, ...LAYER4_MODULES]);
    await waitFor(async () => (await noteOf(named.id)) === null, { description: 'the named stream no longer noted' });
    expect((await api.patch(`/routes/${parked.id}`, { enabled: true })).status).toBe(200);

    // Back to a Caddy without layer4: both streams say so again, the enabled one too (its agent, whose applied
    // revision is current, gets no sync whose ack would tell).
    await reconnect(BASE_MODULES);
    await waitFor(async () => (await noteOf(named.id)) === NO_LAYER4_REASON, { description: 'the named stream noted again' });
    expect(await noteOf(parked.id)).toBe(NO_LAYER4_REASON);
    // Modules unknown (an existing Caddy): benefit of the doubt, as at create time; the agent's acks tell.
    await reconnect(undefined);
    await waitFor(async () => (await noteOf(named.id)) === null, { description: 'no note while the modules are unknown' });
    expect(await noteOf(parked.id)).toBeNull();
    const revision = (await api.get(`/routes/${parked.id}`)).body.revision as number;
    ws!.send(JSON.stringify({ type: 'ack', revision, ok: true, routeErrors: [{ routeId: parked.id, error: NO_LAYER4_REASON }] }));
    await waitFor(async () => (await noteOf(parked.id)) === NO_LAYER4_REASON, { description: "the agent's report stored" });
    // That report goes once the agent comes back with a layer4 Caddy; a problem of another kind stays.
    ws!.send(JSON.stringify({ type: 'ack', revision, ok: true, routeErrors: [{ routeId: parked.id, error: NO_LAYER4_REASON }, { routeId: page.id, error: 'something else' }] }));
    await waitFor(async () => (await noteOf(page.id)) === 'something else', { description: 'the second report stored' });
    await reconnect([...BASE_MODULES, ...LAYER4_MODULES]);
    await waitFor(async () => (await noteOf(parked.id)) === null, { description: "the agent's layer4 report cleared" });
    expect(await noteOf(page.id)).toBe('something else');
  });
});
