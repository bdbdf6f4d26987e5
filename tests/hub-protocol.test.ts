import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_CODES, PROTOCOL_VERSION, LIMITS } from '@caddyfleet/protocol';
import { ADMIN_PASSWORD, TestStore, snapshot, TestController } from './helpers/controller';
import { loadConfig, startController } from '../apps/controller/src/index';
import { waitFor } from './helpers/processes';

const hello = (appliedRevision = 0) => ({
  type: 'hello',
  protocolVersion: PROTOCOL_VERSION,
  agentVersion: 'test',
  caddyVersion: 'v2.6.2',
  appliedRevision,
});

interface Peer {
  ws: WebSocket;
  frames: any[];
  closed: Promise<{ code: number; reason: string }>;
}

describe('agent hub protocol', () => {
  let store: TestStore;
  let t: TestController;
  let base: string;
  let api: ReturnType<TestController['client']>;
  let siteId: string;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: store.dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent', heartbeatSeconds: '1', offlineAfterMissed: '2' }, {});
    t = new TestController(await startController(config, { announce: () => {} }));
    base = t.c.url.replace('http', 'ws') + '/api/v1/agent/connect';
    api = t.client(await t.login());
    siteId = (await api.get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  async function enroll(name: string): Promise<{ nodeId: string; agentKey: string }> {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const res = await t.request('POST', '/agent/enroll', { body: { token: tok.token, name, hostname: `${name}.test` } });
    return res.body;
  }

  function connect(key: string | null): Promise<Peer & { rejected?: { status: number; body: any } }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(base, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      const frames: any[] = [];
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
      ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
      ws.on('open', () => resolve({ ws, frames, closed }));
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ ws, frames, closed, rejected: { status: res.statusCode ?? 0, body: JSON.parse(body) } }));
      });
      ws.on('error', () => {});
    });
  }

  it('refuses connections without a valid key', async () => {
    const none = await connect(null);
    expect(none.rejected?.status).toBe(401);
    const bad = await connect('cfa_' + 'x'.repeat(43));
    expect(bad.rejected?.body.error.code).toBe('agent_key_invalid');
  });

  it('welcomes a hello, sends a full sync when behind, and only the node\'s own routes', async () => {
    const a = await enroll('proto-a');
    const b = await enroll('proto-b');
    const routeA = (await api.post('/routes', { kind: 'dead', nodeId: a.nodeId, domains: ['a.proto.test'] })).body;
    await api.post('/routes', { kind: 'dead', nodeId: b.nodeId, domains: ['b.proto.test'] });
    const peer = await connect(a.agentKey);
    peer.ws.send(JSON.stringify(hello(0)));
    await waitFor(() => peer.frames.some((f) => f.type === 'sync'));
    expect(peer.frames[0]).toMatchObject({ type: 'welcome', protocolVersion: PROTOCOL_VERSION, nodeId: a.nodeId, heartbeatSeconds: 1 });
    const sync = peer.frames.find((f) => f.type === 'sync');
    expect(sync.revision).toBe(1);
    expect(sync.routes.map((r: any) => r.id)).toEqual([routeA.id]);
    await waitFor(async () => (await api.get(`/nodes/${a.nodeId}`)).body.status === 'online');

    peer.ws.send(JSON.stringify({ type: 'ack', revision: 1, ok: true, routeErrors: [] }));
    peer.ws.send(JSON.stringify({ type: 'status', routeCount: 1, certCount: 0, caddyVersion: 'v2.6.2', appliedRevision: 1 }));
    await waitFor(async () => {
      const n = (await api.get(`/nodes/${a.nodeId}`)).body;
      return n.appliedRevision === 1 && n.routeCount === 1 && n.caddyVersion === 'v2.6.2';
    });

    // A burst of edits: the first goes out at once as a delta; the others wait for its ack and follow together.
    const before = peer.frames.length;
    for (let i = 0; i < 10; i++) await api.post('/routes', { kind: 'dead', nodeId: a.nodeId, domains: [`burst${i}.proto.test`] });
    const pushed = () => peer.frames.slice(before).filter((f) => f.type === 'sync' || f.type === 'delta');
    let acked = 0;
    await waitFor(() => {
      for (const f of pushed().slice(acked)) peer.ws.send(JSON.stringify({ type: 'ack', revision: f.revision, ok: true, routeErrors: [] }));
      acked = pushed().length;
      return pushed().some((f) => f.revision === 11);
    });
    const pushes = pushed();
    expect(pushes.length).toBeLessThan(10);
    expect(pushes.every((f) => f.type === 'delta')).toBe(true);
    const held = new Map<string, any>(sync.routes.map((r: any) => [r.id, r]));
    let at = 1;
    for (const d of pushes) {
      expect(d.base, 'each delta starts where the previous one ended').toBe(at);
      for (const id of d.remove) held.delete(id);
      for (const r of d.upsert) held.set(r.id, r);
      at = d.revision;
    }
    expect(held.size).toBe(11);
    expect([...held.values()].every((r: any) => r.nodeId === a.nodeId)).toBe(true);

    peer.ws.send(JSON.stringify({ type: 'ack', revision: 11, ok: false, error: 'loading config: bad thing' }));
    await waitFor(async () => (await api.get(`/nodes/${a.nodeId}`)).body.status === 'error');
    expect((await api.get(`/nodes/${a.nodeId}`)).body.lastError).toBe('loading config: bad thing');

    const metrics = await t.request('GET', '/metrics', { headers: await t.login() });
    expect(metrics.body).toMatch(/^caddyfleet_agents_connected 1$/m);
    expect(Number(/^caddyfleet_syncs_sent_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(pushes.length + 1);
    expect(Number(/^caddyfleet_node_status_flushes_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(0);

    peer.ws.send(JSON.stringify({ type: 'ping', t: 42 }));
    await waitFor(() => peer.frames.some((f) => f.type === 'pong' && f.t === 42));
    peer.ws.close();
    await waitFor(async () => (await api.get(`/nodes/${a.nodeId}`)).body.status === 'offline');
  });

  it('speaks protocol 1 to an agent that only knows it: full syncs, never deltas', async () => {
    const n = await enroll('proto-v1');
    await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['v1-a.proto.test'] });
    const peer = await connect(n.agentKey);
    peer.ws.send(JSON.stringify({ ...hello(0), protocolVersion: 1 }));
    await waitFor(() => peer.frames.some((f) => f.type === 'sync'));
    expect(peer.frames[0]).toMatchObject({ type: 'welcome', protocolVersion: 1 });
    peer.ws.send(JSON.stringify({ type: 'ack', revision: 1, ok: true, routeErrors: [] }));
    await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['v1-b.proto.test'] });
    await waitFor(() => peer.frames.some((f) => f.type === 'sync' && f.revision === 2));
    expect(peer.frames.find((f) => f.revision === 2).routes.map((r: any) => r.domains[0]).sort()).toEqual(['v1-a.proto.test', 'v1-b.proto.test']);
    expect(peer.frames.some((f) => f.type === 'delta')).toBe(false);
    peer.ws.close();
  });

  it('answers a resync request with the full state', async () => {
    const n = await enroll('proto-resync');
    const first = (await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['r1.proto.test'] })).body;
    const peer = await connect(n.agentKey);
    peer.ws.send(JSON.stringify(hello(1)));
    await waitFor(() => peer.frames.some((f) => f.type === 'welcome'));
    await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['r2.proto.test'] });
    await waitFor(() => peer.frames.some((f) => f.type === 'delta'));
    expect(peer.frames.find((f) => f.type === 'delta')).toMatchObject({ base: 1, revision: 2, remove: [] });
    // As if this agent had lost revision 1: it cannot apply the delta and asks for everything.
    peer.ws.send(JSON.stringify({ type: 'resync', revision: 0 }));
    await waitFor(() => peer.frames.some((f) => f.type === 'sync'));
    const sync = peer.frames.find((f) => f.type === 'sync');
    expect(sync.revision).toBe(2);
    expect(sync.routes.map((r: any) => r.id)).toContain(first.id);
    expect(sync.routes).toHaveLength(2);
    peer.ws.close();
  });

  it('closes rogue clients on garbage, oversized, unknown-type and pre-hello frames, changing nothing', async () => {
    const rogue = await enroll('rogue');
    const cases: { name: string; send: (ws: WebSocket) => void; code: number }[] = [
      { name: 'non-JSON', send: (ws) => ws.send('not json {'), code: CLOSE_CODES.badFrame },
      { name: 'binary', send: (ws) => ws.send(Buffer.from([1, 2, 3])), code: CLOSE_CODES.badFrame },
      { name: 'unknown type', send: (ws) => ws.send(JSON.stringify({ type: 'rm-rf' })), code: CLOSE_CODES.badFrame },
      {
        // A zod message quoting a long multi-byte key once made the close reason overflow 123 bytes and crash the controller.
        name: 'unknown multi-byte key',
        send: (ws) => ws.send(JSON.stringify({ type: 'ping', t: 1, ['a'.repeat(60) + '日'.repeat(40)]: 1 })),
        code: CLOSE_CODES.badFrame,
      },
      { name: 'pre-hello ack', send: (ws) => ws.send(JSON.stringify({ type: 'ack', revision: 99, ok: true })), code: CLOSE_CODES.badFrame },
      { name: 'pre-hello status', send: (ws) => ws.send(JSON.stringify({ type: 'status', routeCount: 5, certCount: 5, caddyVersion: 'x', appliedRevision: 9 })), code: CLOSE_CODES.badFrame },
      { name: 'controller-only frame', send: (ws) => ws.send(JSON.stringify({ type: 'sync', revision: 1, routes: [] })), code: CLOSE_CODES.badFrame },
      { name: 'oversized', send: (ws) => ws.send('x'.repeat(LIMITS.wsFrameBytes + 1)), code: CLOSE_CODES.tooLarge },
      { name: 'wrong protocol version', send: (ws) => ws.send(JSON.stringify({ ...hello(), protocolVersion: 999 })), code: CLOSE_CODES.protocolMismatch },
      {
        name: 'hostile local routes',
        send: (ws) => {
          ws.send(JSON.stringify(hello()));
          ws.send(JSON.stringify({ type: 'local-routes', routes: [{ id: 'x', kind: 'proxy', domains: ['{http.request.uri}'], upstreams: [{ host: 'a', port: 1 }] }] }));
        },
        code: CLOSE_CODES.badFrame,
      },
      {
        name: 'second hello',
        send: (ws) => {
          ws.send(JSON.stringify(hello()));
          ws.send(JSON.stringify(hello()));
        },
        code: CLOSE_CODES.badFrame,
      },
    ];
    for (const c of cases) {
      await waitFor(async () => (await api.get(`/nodes/${rogue.nodeId}`)).body.status !== 'online' && !t.c.hub.sessions.has(rogue.nodeId));
      const before = (await snapshot(t)).replace(/"(status|last_seen_at|updated_at|caddy_version|agent_version)":("[^"]*"|null|\d+)/g, '');
      const peer = await connect(rogue.agentKey);
      c.send(peer.ws);
      const closed = await peer.closed;
      expect(closed.code, c.name).toBe(c.code);
      const after = (await snapshot(t)).replace(/"(status|last_seen_at|updated_at|caddy_version|agent_version)":("[^"]*"|null|\d+)/g, '');
      expect(after, c.name).toBe(before);
    }
  });

  it('disconnects a revoked node within a second and refuses it afterwards', async () => {
    const n = await enroll('to-revoke');
    const peer = await connect(n.agentKey);
    peer.ws.send(JSON.stringify(hello()));
    await waitFor(() => peer.frames.some((f) => f.type === 'welcome'));
    const started = Date.now();
    await api.post(`/nodes/${n.nodeId}/revoke`);
    const closed = await peer.closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(closed.code).toBe(CLOSE_CODES.revoked);
    expect(closed.reason).toContain('revoked');
    const again = await connect(n.agentKey);
    expect(again.rejected?.status).toBe(401);
    expect(again.rejected?.body.error.code).toBe('agent_key_revoked');
  });

  it('a key revoked while its connection was being upgraded is refused at hello', async () => {
    const n = await enroll('revoked-mid-upgrade');
    const peer = await connect(n.agentKey);
    // As if the revocation committed between authentication and the session's registration: no event reaches it.
    await t.db.updateTable('nodes').set({ agent_key_hash: null }).where('id', '=', n.nodeId).execute();
    peer.ws.send(JSON.stringify(hello()));
    expect((await peer.closed).code).toBe(CLOSE_CODES.revoked);
    expect(peer.frames.some((f) => f.type === 'welcome')).toBe(false);
  });

  it('marks a silent agent offline after missed heartbeats', async () => {
    const n = await enroll('silent');
    const peer = await connect(n.agentKey);
    peer.ws.send(JSON.stringify(hello()));
    await waitFor(async () => (await api.get(`/nodes/${n.nodeId}`)).body.status === 'online');
    // Heartbeat 1 s, offline after 2 missed: the hub cuts the socket and marks the node offline.
    await waitFor(async () => (await api.get(`/nodes/${n.nodeId}`)).body.status === 'offline', { timeoutMs: 6000 });
    expect((await peer.closed).code).toBe(1006);
  });

  it('a route moved to another node drops the problem the old node reported', async () => {
    const a = await enroll('no-layer4');
    const b = await enroll('has-layer4');
    const peerA = await connect(a.agentKey);
    const peerB = await connect(b.agentKey);
    // A cannot serve stream routes and says so in its acks; B serves everything. Both keep the routes they
    // were sent (full syncs and deltas) as an agent does.
    const held = (peer: Peer, errorsOf: (routes: any[]) => unknown[]) => {
      const routes = new Map<string, any>();
      peer.ws.on('message', (d) => {
        const f = JSON.parse(d.toString());
        if (f.type === 'sync') routes.clear();
        if (f.type !== 'sync' && f.type !== 'delta') return;
        for (const id of f.remove ?? []) routes.delete(id);
        for (const r of f.routes ?? f.upsert) routes.set(r.id, r);
        peer.ws.send(JSON.stringify({ type: 'ack', revision: f.revision, ok: true, routeErrors: errorsOf([...routes.values()]) }));
      });
    };
    held(peerA, (routes) => routes.filter((r) => r.kind === 'stream').map((r) => ({ routeId: r.id, error: 'no layer4 here' })));
    held(peerB, () => []);
    peerA.ws.send(JSON.stringify(hello()));
    peerB.ws.send(JSON.stringify(hello()));
    await api.post('/routes', { kind: 'dead', nodeId: b.nodeId, domains: ['b.move.test'] });
    await waitFor(async () => (await api.get(`/nodes/${b.nodeId}`)).body.appliedRevision === 1);
    const stream = (await api.post('/routes', { kind: 'stream', nodeId: a.nodeId, listen: { port: 9999 }, upstreams: [{ host: '127.0.0.1', port: 1 }] })).body;
    await waitFor(async () => (await api.get(`/routes/${stream.id}`)).body.lastError === 'no layer4 here');
    const moved = await api.patch(`/routes/${stream.id}`, { nodeId: b.nodeId });
    expect(moved.body.lastError).toBeNull();
    await waitFor(async () => (await api.get(`/nodes/${b.nodeId}`)).body.appliedRevision === 2);
    expect((await api.get(`/routes/${stream.id}`)).body.lastError).toBeNull();
    peerA.ws.close();
    peerB.ws.close();
  });

  it('publishes local routes read-only and reports conflicts with central routes', async () => {
    const n = await enroll('local-pub');
    await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['central.local-pub.test'] });
    await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['parked.local-pub.test'], enabled: false });
    const peer = await connect(n.agentKey);
    peer.ws.send(JSON.stringify(hello()));
    peer.ws.send(
      JSON.stringify({
        type: 'local-routes',
        routes: [
          { id: 'loc_1', kind: 'proxy', scope: 'local_only', domains: ['mine.local-pub.test'], upstreams: [{ host: '127.0.0.1', port: 9000 }] },
          { id: 'loc_2', kind: 'dead', scope: 'local_only', domains: ['central.local-pub.test'] },
          { id: 'loc_3', kind: 'dead', scope: 'local_only', domains: ['parked.local-pub.test'] },
        ],
      }),
    );
    await waitFor(async () => (await api.get(`/routes?nodeId=${n.nodeId}`)).body.length === 5);
    const routes = (await api.get(`/routes?nodeId=${n.nodeId}`)).body;
    const mine = routes.find((r: any) => r.id === `${n.nodeId}-loc_1`);
    expect(mine).toMatchObject({ scope: 'local_only', origin: 'local', lastError: null });
    expect(routes.find((r: any) => r.id === `${n.nodeId}-loc_2`).lastError).toMatch(/conflicts with route rt_/);
    expect(routes.find((r: any) => r.id === `${n.nodeId}-loc_3`).lastError, 'a disabled central route blocks nothing, as on the agent').toBeNull();
    const clash = await api.post('/routes', { kind: 'dead', nodeId: n.nodeId, domains: ['mine.local-pub.test'] });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain(`${n.nodeId}-loc_1`);
    expect((await api.patch(`/routes/${mine.id}`, { enabled: false })).status).toBe(403);
    peer.ws.close();
  });
});
