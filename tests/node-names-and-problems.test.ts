/**
 * What a new user trips over: two servers with the same name, and a stream route that a node cannot serve
 * looking healthy until its agent says otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_LAYER4_REASON } from '@caddyfleet/caddy';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD, TestController, TestStore } from './helpers/controller';
import { waitFor } from './helpers/processes';
import { connectPeer, helloFrame } from './helpers/raw-agent';

describe('node names and known route problems', () => {
  let store: TestStore;
  let t: TestController;
  let api: ReturnType<TestController['client']>;
  let siteId = '';

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: store.dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {});
    t = new TestController(await startController(config, { announce: () => {} }));
    api = t.client(await t.login());
    siteId = (await api.get('/nodes/local')).body.siteId;
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  const enroll = async (name: string) => {
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body.token;
    return (await t.request('POST', '/agent/enroll', { body: { token: tok, name, hostname: `${name}.test` } })).body as { nodeId: string; agentKey: string };
  };

  it('keeps node names unique: a second agent of the same name gets a suffix, a rename to a taken name is refused', async () => {
    const a = await enroll('edge');
    const b = await enroll('edge');
    const c = await enroll('EDGE');
    expect((await api.get(`/nodes/${a.nodeId}`)).body.name).toBe('edge');
    expect((await api.get(`/nodes/${b.nodeId}`)).body.name).toBe('edge-2');
    expect((await api.get(`/nodes/${c.nodeId}`)).body.name).toBe('EDGE-3');
    const taken = await api.patch(`/nodes/${b.nodeId}`, { name: 'Edge' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'node_name_taken', details: [{ path: 'name' }] });
    expect((await api.patch(`/nodes/${b.nodeId}`, { name: 'edge-west' })).body.name).toBe('edge-west');
    expect((await enroll('local')).nodeId).toBeTruthy();
    expect((await api.get('/nodes')).body.filter((n: any) => n.name === 'local')).toHaveLength(1);
  });

  it('knows a stream route a node cannot serve from its module list: refused, or noted at creation when disabled', async () => {
    const without = await enroll('no-l4');
    const withL4 = await enroll('has-l4');
    const existing = await enroll('existing-caddy');
    const unknown = await enroll('never-seen');
    const ws = t.c.url.replace('http', 'ws') + '/api/v1/agent/connect';
    const p1 = await connectPeer(ws, without.agentKey);
    p1.send(helloFrame(0, ['http.handlers.reverse_proxy', 'http.handlers.static_response']));
    const p2 = await connectPeer(ws, withL4.agentKey);
    p2.send(helloFrame(0, ['http.handlers.reverse_proxy', 'http.handlers.static_response', 'layer4', 'layer4.handlers.proxy']));
    // An older agent in front of an existing Caddy: no module list, and the flag it still sends is not a record.
    const p3 = await connectPeer(ws, existing.agentKey);
    // It answers as an agent does: whatever it cannot serve (every stream here) is in its ack's routeErrors.
    p3.ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type !== 'sync' && f.type !== 'delta') return;
      const streams = [...(f.routes ?? f.upsert)].filter((r: any) => r.kind === 'stream' && r.enabled);
      p3.send({ type: 'ack', revision: f.revision, ok: true, routeErrors: streams.map((r: any) => ({ routeId: r.id, error: NO_LAYER4_REASON })) });
    });
    p3.send({ ...helloFrame(0), capabilities: { layer4: false } });
    await waitFor(async () => (await api.get(`/nodes/${without.nodeId}`)).body.caddyModules !== null);
    await waitFor(async () => (await api.get(`/nodes/${withL4.nodeId}`)).body.caddyModules?.includes('layer4') === true);
    await waitFor(async () => (await api.get(`/nodes/${existing.nodeId}`)).body.status === 'online');
    const existingNode = (await api.get(`/nodes/${existing.nodeId}`)).body;
    expect(existingNode.caddyModules).toBeNull();
    expect(existingNode).not.toHaveProperty('capabilities');
    expect((await api.get(`/nodes/${unknown.nodeId}`)).body.caddyModules).toBeNull();

    const stream = (nodeId: string, port: number, extra: object = {}) =>
      api.post('/routes', { kind: 'stream', nodeId, listen: { port }, upstreams: [{ host: '127.0.0.1', port: 5432 }], ...extra });
    const refused = await stream(without.nodeId, 15432);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4', nodeId: without.nodeId } });
    // Disabled, it is accepted, with what its node lacks noted at once.
    const parked = await stream(without.nodeId, 15432, { enabled: false });
    expect(parked.status).toBe(201);
    expect(parked.body.lastError).toBe(NO_LAYER4_REASON);
    expect((await api.patch(`/routes/${parked.body.id}`, { enabled: true })).body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4' } });
    expect((await stream(withL4.nodeId, 15432)).body.lastError).toBeNull();
    expect((await stream(unknown.nodeId, 15432)).body.lastError).toBeNull();
    // Modules unknown: accepted as healthy, until the node's agent reports it cannot serve it.
    const onExisting = await stream(existing.nodeId, 15432);
    expect(onExisting.status).toBe(201);
    expect(onExisting.body.lastError).toBeNull();
    await waitFor(async () => (await api.get(`/routes/${onExisting.body.id}`)).body.lastError === NO_LAYER4_REASON);
    // Moved onto the node without layer4: refused when enabled, noted there when disabled.
    const moved = (await stream(withL4.nodeId, 15433)).body;
    expect((await api.patch(`/routes/${moved.id}`, { nodeId: without.nodeId })).body.error).toMatchObject({ code: 'node_lacks_module' });
    const off = (await stream(withL4.nodeId, 15434, { enabled: false })).body;
    expect(off.lastError).toBeNull();
    expect((await api.patch(`/routes/${off.id}`, { nodeId: without.nodeId })).body.lastError).toBe(NO_LAYER4_REASON);
    p1.ws.close();
    p2.ws.close();
    p3.ws.close();
  });
});
