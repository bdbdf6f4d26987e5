/**
 * Issue #3, the fleet end to end with real components: a controller (in this process, SQLite, listening on
 * 127.0.0.1), three agents as real `caddyfleet agent` processes, each with its own managed Caddy on its own
 * loopback address (127.0.0.2, .3, .4), and real upstream HTTP servers on 127.0.0.1. Everything is driven
 * through the public HTTP API and checked by requests with a Host header to each node's Caddy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetNode, Route } from '@caddyfleet/protocol';
import { freePort } from './helpers/processes';
import {
  DEAD_TEXT,
  FleetAgent,
  FleetController,
  UNKNOWN_HOST_TEXT,
  isUnknownHost,
  requireCaddy,
  startUpstream,
  waitFor,
  type Upstream,
} from './helpers/fleet';

const hasCaddy = requireCaddy();

describe.skipIf(!hasCaddy)('fleet end to end: one controller, three agents', () => {
  let ctl: FleetController;
  let agents: FleetAgent[] = [];
  let a: FleetAgent;
  let b: FleetAgent;
  let c: FleetAgent;
  const upstreams: Record<string, Upstream> = {};

  beforeAll(async () => {
    ctl = await FleetController.start({ heartbeatSeconds: 1, offlineAfterMissed: 3 });
    for (const label of ['UA', 'UB', 'UC']) upstreams[label] = await startUpstream(label);
    const started = await Promise.allSettled([
      FleetAgent.enroll(ctl, { ip: '127.0.0.2', name: 'fleet-a' }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.3', name: 'fleet-b' }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.4', name: 'fleet-c' }),
    ]);
    agents = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [a, b, c] = agents as [FleetAgent, FleetAgent, FleetAgent];
  });

  afterAll(async () => {
    await Promise.all(agents.map((x) => x.dispose()));
    await ctl?.dispose();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });

  /** Waits until every node is online with applied === desired, and returns them by agent. */
  async function allInSync(): Promise<FleetNode[]> {
    return Promise.all(agents.map((x) => ctl.waitInSync(x.nodeId)));
  }

  it('enrolls three agents that come online with their versions, in sync', async () => {
    const nodes = await allInSync();
    expect(new Set(nodes.map((n) => n.id)).size).toBe(3);
    for (const [i, n] of nodes.entries()) {
      expect(n).toMatchObject({
        name: agents[i]!.name,
        siteId: ctl.siteId,
        isLocal: false,
        status: 'online',
        caddyVersion: expect.stringMatching(/^v?2\./),
        agentVersion: expect.any(String),
        routeCount: 0,
        lastError: null,
      });
      expect(Date.now() - Date.parse(n.lastSeenAt!)).toBeLessThan(30_000);
    }
    // Nothing is configured yet: every Caddy answers its catch-all 404.
    for (const x of agents) await x.waitServes('nothing.fleet.test', isUnknownHost, 'answers unknown hosts with 404');
  });

  let proxy: Route;
  let redirect: Route;
  let dead: Route;

  it('serves a proxy, a redirect and a dead route each only on its own node', async () => {
    proxy = await ctl.createRoute({ kind: 'proxy', nodeId: a.nodeId, domains: ['app.fleet.test'], upstreams: [{ host: '127.0.0.1', port: upstreams.UA!.port }] });
    redirect = await ctl.createRoute({
      kind: 'redirect',
      nodeId: b.nodeId,
      domains: ['go.fleet.test'],
      redirect: { to: 'https://target.fleet.test/base', status: 302, preservePath: true },
    });
    dead = await ctl.createRoute({ kind: 'dead', nodeId: c.nodeId, domains: ['gone.fleet.test'] });

    // Proxy on A: the upstream's own answer, with the original Host and path.
    const proxied = await a.waitServes('app.fleet.test', (r) => r.status === 200, 'proxies app.fleet.test', 15_000, '/p/q?x=1');
    expect(proxied.body).toBe('UA app.fleet.test/p/q?x=1');
    // Redirect on B: status and Location with the path preserved.
    const redirected = await b.waitServes('go.fleet.test', (r) => r.status === 302, 'redirects go.fleet.test', 15_000, '/some/path?y=2');
    expect(redirected.headers.location).toBe('https://target.fleet.test/base/some/path?y=2');
    // Dead on C: 404 with the dead-route page, not the unknown-host one.
    const gone = await c.waitServes('gone.fleet.test', (r) => r.status === 404 && r.body.includes(DEAD_TEXT), 'answers the dead route');
    expect(gone.body).not.toContain(UNKNOWN_HOST_TEXT);

    // The same Host on any other node is unknown there.
    for (const [host, owner] of [['app.fleet.test', a], ['go.fleet.test', b], ['gone.fleet.test', c]] as const) {
      for (const other of agents.filter((x) => x !== owner)) {
        const r = await other.get(host);
        expect(isUnknownHost(r), `${host} on ${other.name}: ${r.status} ${r.body}`).toBe(true);
      }
    }
    // A host nobody serves is a 404 everywhere.
    for (const x of agents) expect(isUnknownHost(await x.get('unknown.fleet.test'))).toBe(true);

    // The controller sees every node online, in sync, counting its one route (routeCount comes with a heartbeat).
    for (const x of agents) {
      const n = await ctl.waitNode(x.nodeId, (n) => n.status === 'online' && n.routeCount === 1 && n.appliedRevision === n.desiredRevision && n.desiredRevision > 0, `${x.name}: routeCount 1, in sync`);
      expect(n.caddyVersion).toMatch(/^v?2\./);
      expect(n.lastError).toBeNull();
      expect(Date.now() - Date.parse(n.lastSeenAt!)).toBeLessThan(10_000);
    }
    for (const r of [proxy, redirect, dead]) expect((await ctl.route(r.id)).lastError).toBeNull();
  });

  it('refuses a stream route for a node whose Caddy lacks layer4 (409 node_lacks_module), and changes nothing', async () => {
    const before = await ctl.waitInSync(a.nodeId);
    // The agent reported its Debian Caddy's modules in hello: no layer4 among them.
    expect(before.caddyModules).toContain('http.handlers.reverse_proxy');
    expect(before.caddyModules).not.toContain('layer4');
    expect(before.listeners).toEqual({ http: a.httpPort, https: a.httpsPort });
    const refused = await ctl.api('POST', '/routes', {
      kind: 'stream',
      nodeId: a.nodeId,
      listen: { port: await freePort('127.0.0.2'), protocol: 'tcp' },
      upstreams: [{ host: '127.0.0.1', port: upstreams.UA!.port }],
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'node_lacks_module', details: { module: 'layer4', nodeId: a.nodeId } });
    expect(refused.body.error.message).toMatch(/has no module layer4/);
    const after = await ctl.node(a.nodeId);
    expect(after.desiredRevision).toBe(before.desiredRevision);
    expect((await ctl.ok<Route[]>('GET', `/routes?nodeId=${a.nodeId}&kind=stream`)).length).toBe(0);
    // A disabled stream serves nothing, so it is accepted; enabling it is refused the same way.
    const parked = await ctl.createRoute({
      kind: 'stream',
      nodeId: a.nodeId,
      enabled: false,
      listen: { port: await freePort('127.0.0.2'), protocol: 'tcp' },
      upstreams: [{ host: '127.0.0.1', port: upstreams.UA!.port }],
    });
    const enable = await ctl.api('PATCH', `/routes/${parked.id}`, { enabled: true });
    expect(enable.status).toBe(409);
    expect(enable.body.error.code).toBe('node_lacks_module');
    expect((await ctl.route(parked.id)).enabled).toBe(false);
    await ctl.deleteRoute(parked.id);
    await ctl.waitInSync(a.nodeId);
    expect((await a.get('app.fleet.test')).body).toBe('UA app.fleet.test/');
  });

  it('moves a route to another node with PATCH nodeId', async () => {
    const moved = await ctl.patchRoute(proxy.id, { nodeId: b.nodeId });
    expect(moved.nodeId).toBe(b.nodeId);
    const served = await b.waitServes('app.fleet.test', (r) => r.status === 200, 'serves the moved route');
    expect(served.body).toBe('UA app.fleet.test/');
    await a.waitServes('app.fleet.test', isUnknownHost, 'no longer serves the moved route');
    expect(isUnknownHost(await c.get('app.fleet.test'))).toBe(true);
    // B still serves its redirect next to it.
    expect((await b.get('go.fleet.test')).status).toBe(302);
    await ctl.waitNode(a.nodeId, (n) => n.routeCount === 0 && n.appliedRevision === n.desiredRevision, 'A: routeCount 0');
    await ctl.waitNode(b.nodeId, (n) => n.routeCount === 2 && n.appliedRevision === n.desiredRevision, 'B: routeCount 2');
    expect((await ctl.ok<Route[]>('GET', `/routes?nodeId=${a.nodeId}`)).length).toBe(0);
  });

  it('deletes a route: its node stops serving it', async () => {
    await ctl.deleteRoute(redirect.id);
    await b.waitServes('go.fleet.test', isUnknownHost, 'no longer redirects');
    expect((await b.get('app.fleet.test')).status).toBe(200);
    expect((await ctl.api('GET', `/routes/${redirect.id}`)).status).toBe(404);
    await ctl.waitNode(b.nodeId, (n) => n.routeCount === 1 && n.appliedRevision === n.desiredRevision, 'B: routeCount 1');
  });

  it('applies one batch that changes copies of a route on all three nodes', async () => {
    const shared = 'shared.fleet.test';
    const { created } = await ctl.batch({
      create: agents.map((x) => ({ kind: 'proxy', tls: 'off', nodeId: x.nodeId, domains: [shared], upstreams: [{ host: '127.0.0.1', port: upstreams.UA!.port }] })),
    });
    expect(created).toHaveLength(3);
    for (const x of agents) expect((await x.waitServes(shared, (r) => r.status === 200, 'serves the shared copy')).body).toBe(`UA ${shared}/`);

    const { updated } = await ctl.batch({
      update: created.map((r) => ({ id: r.id, patch: { upstreams: [{ host: '127.0.0.1', port: upstreams.UC!.port }] } })),
    });
    expect(updated.map((r) => r.nodeId).sort()).toEqual(agents.map((x) => x.nodeId).sort());
    for (const x of agents) expect((await x.waitServes(shared, (r) => r.body.startsWith('UC '), 'serves the updated copy')).body).toBe(`UC ${shared}/`);
    const nodes = await allInSync();
    for (const [i, n] of nodes.entries()) expect(n.appliedRevision, agents[i]!.name).toBe(updated.find((r) => r.nodeId === n.id)!.revision);
    // Unrelated routes were left alone.
    expect((await b.get('app.fleet.test')).body).toBe('UA app.fleet.test/');
    expect((await c.get('gone.fleet.test')).body).toContain(DEAD_TEXT);
  });

  it('keeps every agent process and its Caddy alive throughout', async () => {
    for (const x of agents) {
      expect(x.running, x.describe()).toBe(true);
      const s = await x.status();
      expect(s.connected).toBe(true);
      expect(s.caddy.restarts).toBe(0);
    }
  });
});
