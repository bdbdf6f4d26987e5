/**
 * The agent's side of the controller protocol when things go right, against a scripted fake controller (real
 * HTTP + WebSocket on 127.0.0.1, tests/helpers/fake-controller.ts) and a real managed Caddy: enrollment,
 * hello/welcome, heartbeats, syncs, deltas and acks, local-routes, restart, explicit credentials, stop.
 * Failures (bad frames, silence, refusals, protocol mismatch): agent-connection-failures.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '@caddyfleet/protocol';
import { loadAgentOptions, startAgent, AGENT_VERSION } from '@caddyfleet/agent';
import { StateStore } from '../apps/agent/src/state';
import { bodyOf, captureLogger, makeRoute as centralRoute } from '../apps/agent/test-support/fixtures';
import { AGENT_KEY, CADDY, useFakeControllerAgents } from './helpers/fake-controller';
import { freePort, requireBinary, waitFor } from './helpers/processes';

const hasCaddy = requireBinary(CADDY, 'caddy');

describe.skipIf(!hasCaddy)('agent ↔ controller protocol (fake controller, real Caddy)', () => {
  const h = useFakeControllerAgents();

  it('enrolls on first run, saves agent.json 0600, then connects with the key and says hello', async () => {
    await h.freshController();
    const { agent, stateDir } = await h.setup();
    expect(agent.nodeId).toBe('node_fake');
    expect(h.fake.enrollRequests).toEqual([{ token: 'cfe_enrollment_token_0123456789', name: 'edge-test', hostname: expect.any(String) }]);
    const store = new StateStore(stateDir);
    expect(await store.readAgent()).toEqual({ controller: h.fake.url, nodeId: 'node_fake', agentKey: AGENT_KEY });
    expect((await stat(store.agentFile)).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);

    const conn = await h.fake.conn(1);
    expect(conn.headers.authorization).toBe(`Bearer ${AGENT_KEY}`);
    const hello = await conn.frame('hello');
    expect(hello).toEqual({
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      agentVersion: AGENT_VERSION,
      caddyVersion: expect.stringMatching(/^v?2\.\d+/),
      appliedRevision: 0,
      // `caddy list-modules` of Debian's Caddy, sorted, and the agent's own listener ports.
      caddyModules: expect.arrayContaining(['http.handlers.reverse_proxy', 'tls']),
      listeners: { http: h.httpPort, https: expect.any(Number) },
    });
    expect(hello.caddyModules).not.toContain('layer4');
    expect([...(hello.caddyModules ?? [])].sort()).toEqual(hello.caddyModules);
    expect(conn.frames[0]?.type).toBe('hello');
    expect(conn.invalid).toEqual([]);
  });

  it('after welcome: sends status and local-routes, then a status and a ping every heartbeat, and answers pings', async () => {
    await h.freshController();
    const { agent } = await h.setup();
    const conn = await h.fake.conn(1);
    const status = await conn.frame('status');
    expect(status).toMatchObject({ routeCount: 0, certCount: 0, appliedRevision: 0, drift: false, caddyVersion: expect.any(String) });
    expect(await conn.frame('local-routes')).toEqual({ type: 'local-routes', routes: [] });
    await waitFor(() => agent.status().connected, { description: 'agent reports connected' });

    await conn.frame('ping', () => true, 5000);
    await waitFor(() => conn.of('status').length >= 2, { timeoutMs: 5000, description: 'a heartbeat status' });
    conn.send({ type: 'ping', t: 4242 });
    expect(await conn.frame('pong')).toEqual({ type: 'pong', t: 4242 });
    expect(conn.invalid).toEqual([]);
  });

  it('applies a sync and acks it; an unchanged sync is acked without a /load; local changes are published', async () => {
    await h.freshController();
    const { agent } = await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('local-routes');
    const route = centralRoute('r_1', { domains: ['synced.test'], upstreams: [{ host: '127.0.0.1', port: h.upstream.port }] });
    conn.send({ type: 'sync', revision: 1, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 1)).toEqual({ type: 'ack', revision: 1, ok: true, routeErrors: [] });
    expect(await bodyOf(h.httpPort, 'synced.test')).toBe('U synced.test/');
    const loads = agent.status().loadCount;

    conn.send({ type: 'sync', revision: 2, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 2)).toMatchObject({ ok: true });
    expect(agent.status().loadCount).toBe(loads);
    expect(agent.status().appliedRevision).toBe(2);

    const added = await agent.localRoutes.add({ kind: 'proxy', domains: ['synced.test'], upstreams: [{ host: '127.0.0.1', port: 1 }], tls: 'off' });
    expect(added.route.lastError).toBe('domain synced.test conflicts with central route r_1');
    const published = await conn.frame('local-routes', (f) => f.routes.length === 1);
    expect(published.routes[0]).toMatchObject({ id: added.route.id, kind: 'proxy', scope: 'local_only', domains: ['synced.test'] });
    expect(published.routes[0]).not.toHaveProperty('createdAt');

    // The next sync's ack carries the conflict.
    conn.send({ type: 'sync', revision: 3, routes: [route] });
    expect(await conn.frame('ack', (a) => a.revision === 3)).toMatchObject({
      ok: true,
      routeErrors: [{ routeId: added.route.id, error: 'domain synced.test conflicts with central route r_1' }],
    });
    expect(conn.invalid).toEqual([]);
  });

  it('applies deltas on top of what it received; a delta from another base changes nothing and asks for a full sync', async () => {
    await h.freshController();
    const { agent } = await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('local-routes');
    const one = centralRoute('r_d1', { domains: ['d1.test'], upstreams: [{ host: '127.0.0.1', port: h.upstream.port }] });
    const two = centralRoute('r_d2', { domains: ['d2.test'], upstreams: [{ host: '127.0.0.1', port: h.upstream.port }] });
    conn.send({ type: 'sync', revision: 1, routes: [one] });
    await conn.frame('ack', (a) => a.revision === 1);
    conn.send({ type: 'delta', base: 1, revision: 2, upsert: [two], remove: [] });
    expect(await conn.frame('ack', (a) => a.revision === 2)).toEqual({ type: 'ack', revision: 2, ok: true, routeErrors: [] });
    expect(await bodyOf(h.httpPort, 'd2.test')).toBe('U d2.test/');
    expect(await bodyOf(h.httpPort, 'd1.test')).toBe('U d1.test/');

    conn.send({ type: 'delta', base: 2, revision: 4, upsert: [], remove: ['r_d1'] });
    await conn.frame('ack', (a) => a.revision === 4);
    expect(agent.status().routeCount).toBe(1);
    expect(await bodyOf(h.httpPort, 'd2.test')).toBe('U d2.test/');

    // Based on a revision this agent does not have: nothing applied, nothing acked, a resync asked for.
    const loads = agent.status().loadCount;
    conn.send({ type: 'delta', base: 3, revision: 5, upsert: [one], remove: [] });
    expect(await conn.frame('resync')).toEqual({ type: 'resync', revision: 4 });
    expect(conn.of('ack').some((a) => a.revision === 5)).toBe(false);
    expect(agent.status().loadCount).toBe(loads);
    expect(agent.status().appliedRevision).toBe(4);
    conn.send({ type: 'sync', revision: 5, routes: [one, two] });
    await conn.frame('ack', (a) => a.revision === 5);
    expect(agent.status().routeCount).toBe(2);
    expect(conn.invalid).toEqual([]);
  });

  it('reports its applied revision from applied.json in hello after a restart', async () => {
    await h.freshController();
    const first = await h.setup();
    const conn = await h.fake.conn(1);
    conn.send({ type: 'sync', revision: 5, routes: [centralRoute('r_5', { domains: ['five.test'], upstreams: [{ host: '127.0.0.1', port: h.upstream.port }] })] });
    await conn.frame('ack', (a) => a.revision === 5);
    await first.agent.stop();
    h.running.splice(h.running.indexOf(first.agent), 1);
    await conn.closed;

    const second = await h.setup({ token: undefined }, first.stateDir);
    const conn2 = await h.fake.conn(2);
    expect(await conn2.frame('hello')).toMatchObject({ appliedRevision: 5 });
    expect(h.fake.enrollRequests).toHaveLength(1);
    expect(await bodyOf(h.httpPort, 'five.test')).toBe('U five.test/');
    expect(second.agent.status().appliedRevision).toBe(5);
  });

  it('uses explicit credentials (standalone mode) without enrolling or writing agent.json', async () => {
    await h.freshController();
    const httpPort = await freePort();
    const stateDir = join(h.dir.path, 'standalone');
    const opts = loadAgentOptions(
      { controller: h.fake.url, stateDir, caddyBin: CADDY, httpListen: `127.0.0.1:${httpPort}`, httpsListen: `127.0.0.1:${await freePort()}`, reconnectMinMs: 50, reconnectMaxMs: 300 },
      {},
    );
    const agent = await startAgent(opts, { logger: captureLogger().log, credentials: { nodeId: 'local', agentKey: 'cfa_standalone_key_0123456789abcdef' } });
    h.running.push(agent);
    const conn = await h.fake.conn(1);
    expect(conn.headers.authorization).toBe('Bearer cfa_standalone_key_0123456789abcdef');
    expect(h.fake.enrollRequests).toHaveLength(0);
    expect(await new StateStore(stateDir).readAgent()).toBeNull();
  });

  it('closes the connection with 1000 on stop()', async () => {
    await h.freshController();
    const { agent } = await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('status');
    await agent.stop();
    expect(await conn.closed).toMatchObject({ code: 1000, reason: 'agent stopping' });
    expect(await agent.done).toEqual({ reason: 'stopped' });
  });
});
