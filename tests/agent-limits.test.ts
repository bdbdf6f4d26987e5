/**
 * What one agent may make the controller do: frames within limits, a bounded rate of frames, local routes
 * stored as a difference with what is stored (yielding to other requests meanwhile) and audited as one entry.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES, LIMITS } from '@caddyfleet/protocol';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD, TestController, TestStore } from './helpers/controller';
import { waitFor } from './helpers/processes';
import { connectPeer, helloFrame, type RawPeer } from './helpers/raw-agent';

const localRoute = (i: number, domains = 1) => ({
  id: `l${i}`,
  kind: 'proxy',
  scope: 'local_only',
  domains: Array.from({ length: domains }, (_, d) => `l${i}-${d}.limits.test`),
  upstreams: [{ host: '127.0.0.1', port: 9000 }],
  tls: 'off',
});

describe('agent limits', () => {
  let store: TestStore;
  let t: TestController;
  let api: ReturnType<TestController['client']>;
  let wsUrl: string;
  let siteId: string;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: store.dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {});
    t = new TestController(await startController(config, { announce: () => {} }));
    wsUrl = t.c.url.replace('http', 'ws') + '/api/v1/agent/connect';
    api = t.client(await t.login());
    siteId = (await api.get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  async function agent(name: string): Promise<{ nodeId: string; agentKey: string; peer: RawPeer }> {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    const creds = (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name, hostname: `${name}.test` } })).body;
    const peer = await connectPeer(wsUrl, creds.agentKey);
    peer.send(helloFrame());
    await waitFor(() => peer.frames.some((f) => f.type === 'welcome'));
    return { ...creds, peer };
  }

  /** Frames are handled in order: the pong to a ping sent after a frame means the frame was handled. */
  async function handled(peer: RawPeer): Promise<void> {
    const t0 = Date.now();
    peer.send({ type: 'ping', t: t0 });
    await waitFor(() => peer.frames.some((f) => f.type === 'pong' && f.t === t0), { timeoutMs: 30_000 });
  }

  const localCount = async (nodeId: string) =>
    (await t.db.selectFrom('routes').select('id').where('node_id', '=', nodeId).where('scope', '=', 'local_only').execute()).length;
  const auditRows = async (nodeId: string) => t.db.selectFrom('audit_log').selectAll().where('entity_id', 'in', [nodeId]).where('action', '!=', 'enroll').execute();

  it('refuses more local routes, or more domains, than one host has', async () => {
    const a = await agent('too-many');
    a.peer.send({ type: 'local-routes', routes: Array.from({ length: LIMITS.localRoutesPerFrame + 1 }, (_, i) => localRoute(i)) });
    const closed = await a.peer.closed;
    expect(closed.code).toBe(CLOSE_CODES.badFrame);
    expect(closed.reason).toMatch(/routes/);
    const b = await agent('too-many-domains');
    const perRoute = Math.ceil((LIMITS.localDomainsPerFrame + 1) / 100);
    b.peer.send({ type: 'local-routes', routes: Array.from({ length: 100 }, (_, i) => localRoute(i, perRoute)) });
    const closedB = await b.peer.closed;
    expect(closedB.code).toBe(CLOSE_CODES.badFrame);
    expect(closedB.reason).toMatch(/domains in total/);
    expect(await localCount(a.nodeId)).toBe(0);
    expect(await localCount(b.nodeId)).toBe(0);
  });

  it('closes an agent that floods frames and refuses it for a while, storing nothing of the flood', async () => {
    const a = await agent('flooder');
    for (let i = 0; i < 30; i++) a.peer.send({ type: 'local-routes', routes: [localRoute(i % 2)] });
    const closed = await a.peer.closed;
    expect(closed.code).toBe(CLOSE_CODES.rateLimited);
    expect(closed.reason).toMatch(/rate limit/);
    const again = await connectPeer(wsUrl, a.agentKey);
    expect(again.rejected).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    expect(await localCount(a.nodeId)).toBe(0);
  });

  it('answers other requests while it stores the largest frame, which it audits as one entry', async () => {
    const a = await agent('largest');
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const healthz = () =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${t.c.url}/healthz`, { agent: httpAgent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    expect(await healthz()).toBe(200); // the connection is open before the frame goes out
    const perRoute = Math.floor(LIMITS.localDomainsPerFrame / LIMITS.localRoutesPerFrame);
    const total = LIMITS.localRoutesPerFrame;
    const routes = Array.from({ length: total }, (_, i) => localRoute(i, perRoute));
    // Looks at the store between turns of the event loop (same connection, so it sees the open transaction):
    // it can only ever see part of the frame stored if the controller gives the loop back while storing.
    const count = t.c.store.sqlite!.prepare("select count(*) as n from routes where node_id = ? and scope = 'local_only'");
    const order: string[] = [];
    let partial = -1;
    const midway = new Promise<void>((resolve) => {
      const look = () => {
        const n = (count.get(a.nodeId) as { n: number }).n;
        if (n > 0 && n < total) {
          partial = n;
          order.push('healthz sent');
          void healthz().then(() => order.push('healthz answered')).then(() => resolve());
          return;
        }
        if (n >= total) return resolve();
        setImmediate(look);
      };
      setImmediate(look);
    });
    a.peer.send({ type: 'local-routes', routes });
    await handled(a.peer);
    order.push('frame stored');
    await midway;
    httpAgent.destroy();
    expect(partial, 'part of the frame was stored while the event loop ran other work').toBeGreaterThan(0);
    expect(order).toEqual(['healthz sent', 'healthz answered', 'frame stored']);
    expect(await localCount(a.nodeId)).toBe(LIMITS.localRoutesPerFrame);

    const audit = await auditRows(a.nodeId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'local-routes', entity_type: 'node', actor: 'agent largest' });
    const summary = JSON.parse(audit[0]!.after_json!);
    expect(summary.counts).toEqual({ created: LIMITS.localRoutesPerFrame, updated: 0, deleted: 0 });
    expect(summary.created.length).toBeLessThanOrEqual(50);

    // The same list again changes nothing at all: not a row, not an audit entry.
    const changes = () => Number((t.c.store.sqlite!.prepare('select total_changes() as n').get() as { n: number }).n);
    const before = changes();
    a.peer.send({ type: 'local-routes', routes });
    await handled(a.peer);
    expect(changes() - before).toBe(0);

    // One route changed and one removed: two changes, folded into the same audit entry (within its minute).
    const next = routes.slice(1);
    next[0] = { ...next[0]!, upstreams: [{ host: '127.0.0.1', port: 9001 }] };
    await new Promise((r) => setTimeout(r, 1100)); // stay under the local-routes frame rate
    a.peer.send({ type: 'local-routes', routes: next });
    await handled(a.peer);
    expect(await localCount(a.nodeId)).toBe(LIMITS.localRoutesPerFrame - 1);
    const after = await auditRows(a.nodeId);
    expect(after).toHaveLength(1);
    const merged = JSON.parse(after[0]!.after_json!);
    expect(merged).toMatchObject({ frames: 2, total: LIMITS.localRoutesPerFrame - 1 });
    expect(merged.counts).toEqual({ created: LIMITS.localRoutesPerFrame, updated: 1, deleted: 1 });
    a.peer.ws.close();
  });

  it('keeps a node to the number of central routes a host has', async () => {
    const { nodeId } = await agent('full-node');
    for (let start = 0; start < LIMITS.routesPerNode; start += 1000) {
      const create = Array.from({ length: 1000 }, (_, i) => ({ kind: 'dead', nodeId, domains: [`c${start + i}.full.test`], tls: 'off' }));
      expect((await api.post('/routes/batch', { create })).status).toBe(200);
    }
    const over = await api.post('/routes', { kind: 'dead', nodeId, domains: ['one-more.full.test'], tls: 'off' });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('too_many_routes');
    const elsewhere = (await api.post('/routes', { kind: 'dead', domains: ['elsewhere.full.test'], tls: 'off' })).body;
    expect((await api.patch(`/routes/${elsewhere.id}`, { nodeId })).body.error.code).toBe('too_many_routes');
  });

  it('throttles failed enrollments and refused agent keys per address (429)', async () => {
    const other = await TestStore.create('sqlite');
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: other.dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {});
    const c = new TestController(await startController(config, { announce: () => {} }));
    try {
      const admin = c.client(await c.login());
      const site = (await admin.get('/nodes/local')).body.siteId;
      const enroll = (token: string, ip = '10.200.7.1') =>
        c.c.app.inject({ method: 'POST', url: '/api/v1/agent/enroll', remoteAddress: ip, payload: { token, name: 'x', hostname: 'x.test' } });
      for (let i = 0; i < 10; i++) expect((await enroll(`cfe_wrong_token_${i}_0000000`)).statusCode).toBe(401);
      const good = (await admin.post(`/sites/${site}/enrollment-tokens`, {})).body.token;
      const blocked = await enroll(good);
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json().error.code).toBe('rate_limited');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await enroll(good, '10.200.7.2')).statusCode, 'another address is not affected').toBe(201);

      const ws = c.c.url.replace('http', 'ws') + '/api/v1/agent/connect';
      for (let i = 0; i < 30; i++) {
        const bad = await connectPeer(ws, `cfa_${'x'.repeat(40)}${i}`);
        expect(bad.rejected?.status).toBe(401);
      }
      const refused = await connectPeer(ws, `cfa_${'y'.repeat(43)}`);
      expect(refused.rejected).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    } finally {
      await c.close();
      await other.dispose();
    }
  });
});
