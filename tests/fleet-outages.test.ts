/**
 * Issue #3, outages with real components: a controller in this process (SQLite, 127.0.0.1, heartbeat 1 s,
 * offline after 3 missed), agents as real `caddyfleet agent` processes with their own managed Caddy on
 * 127.0.0.2–.5, real upstreams on 127.0.0.1. One agent reaches the controller through a TCP proxy that can
 * black-hole the connection without closing it.
 *
 *  (a) an agent stopped while its routes change converges when started again;
 *  (b) a stopped controller: agents keep serving, and come back in sync without restarts when it returns;
 *  (c) a managed Caddy killed with SIGKILL is restarted by its agent, which re-applies its config;
 *  (d) a connection that goes silent: the controller marks the node offline, the agent reconnects by itself;
 *  (e) changes made while the controller was down or a node offline reach the node later;
 *  (f) a revoked node's agent exits by itself, non-zero, saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';
import {
  DEAD_TEXT,
  FleetAgent,
  FleetController,
  isUnknownHost,
  pidAlive,
  requireCaddy,
  sleep,
  startUpstream,
  waitFor,
  waitPidGone,
  type HttpReply,
  type Upstream,
} from './helpers/fleet';

const hasCaddy = requireCaddy();

/**
 * Requests `host` from an agent's Caddy every `everyMs` until stopped (at most `maxMs`), recording every answer
 * that `ok` refuses (or a failed request). For "it kept serving throughout".
 */
function servingProbe(agent: FleetAgent, host: string, ok: (r: HttpReply) => boolean, everyMs = 200, maxMs = 60_000) {
  let stopped = false;
  let requests = 0;
  const failures: string[] = [];
  const loop = (async () => {
    const deadline = Date.now() + maxMs;
    while (!stopped && Date.now() < deadline) {
      requests++;
      try {
        const r = await agent.get(host, '/', 2000);
        if (!ok(r)) failures.push(`${new Date().toISOString()} ${r.status} ${r.body.slice(0, 100)}`);
      } catch (err) {
        failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop(): Promise<{ requests: number; failures: string[] }> {
      stopped = true;
      await loop;
      return { requests, failures };
    },
  };
}

describe.skipIf(!hasCaddy)('fleet outages', () => {
  let ctl: FleetController;
  let proxy: TcpProxy | undefined;
  let agents: FleetAgent[] = [];
  /** Plain agents. */
  let a: FleetAgent;
  let b: FleetAgent;
  /** Reaches the controller through `proxy`. */
  let c: FleetAgent;
  /** Revoked at the end. */
  let d: FleetAgent;
  const up: Record<string, Upstream> = {};
  const routes: Record<string, Route> = {};

  beforeAll(async () => {
    ctl = await FleetController.start({ heartbeatSeconds: 1, offlineAfterMissed: 3 });
    for (const label of ['UA', 'UB', 'UC']) up[label] = await startUpstream(label);
    proxy = await startTcpProxy({ port: ctl.port });
    const started = await Promise.allSettled([
      FleetAgent.enroll(ctl, { ip: '127.0.0.2', name: 'out-a' }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.3', name: 'out-b' }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.4', name: 'out-c', controllerUrl: proxy.url }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.5', name: 'out-d' }),
    ]);
    agents = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [a, b, c, d] = agents as [FleetAgent, FleetAgent, FleetAgent, FleetAgent];

    const proxyTo = (label: string) => [{ host: '127.0.0.1', port: up[label]!.port }];
    routes.a = await ctl.createRoute({ kind: 'proxy', nodeId: a.nodeId, domains: ['a.out.test'], upstreams: proxyTo('UA') });
    routes.b = await ctl.createRoute({ kind: 'proxy', nodeId: b.nodeId, domains: ['b.out.test'], upstreams: proxyTo('UB') });
    routes.c = await ctl.createRoute({ kind: 'proxy', nodeId: c.nodeId, domains: ['c.out.test'], upstreams: proxyTo('UC') });
    routes.d = await ctl.createRoute({ kind: 'dead', nodeId: d.nodeId, domains: ['d.out.test'] });
    await a.waitServes('a.out.test', (r) => r.body === 'UA a.out.test/', 'serves a.out.test');
    await b.waitServes('b.out.test', (r) => r.body === 'UB b.out.test/', 'serves b.out.test');
    await c.waitServes('c.out.test', (r) => r.body === 'UC c.out.test/', 'serves c.out.test');
    await d.waitServes('d.out.test', (r) => r.status === 404 && r.body.includes(DEAD_TEXT), 'serves d.out.test');
    await Promise.all(agents.map((x) => ctl.waitInSync(x.nodeId)));
  });

  afterAll(async () => {
    await Promise.all(agents.map((x) => x.dispose()));
    await ctl?.dispose();
    await proxy?.close();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  it('(a)+(e) an agent stopped while its routes change converges when it starts again', async () => {
    const caddyPid = await a.caddyPid();
    const exit = await a.stop();
    expect(exit, a.describe()).toMatchObject({ code: 0, signal: null });
    expect(a.output()).toContain('caddyfleet agent: stopped');
    // Its managed Caddy stops with it: nothing answers on its address any more.
    await waitPidGone(caddyPid);
    expect(await a.tryGet('a.out.test', '/', 1000)).toBeNull();
    const offline = await ctl.waitStatus(a.nodeId, 'offline', 10_000);

    // Change its routes while it is away: the desired state lives in the controller's database.
    const changed = await ctl.patchRoute(routes.a!.id, { upstreams: [{ host: '127.0.0.1', port: up.UB!.port }] });
    const added = await ctl.createRoute({ kind: 'dead', nodeId: a.nodeId, domains: ['a2.out.test'] });
    const away = await ctl.node(a.nodeId);
    expect(away.status).toBe('offline');
    expect(away.desiredRevision).toBe(added.revision);
    expect(away.appliedRevision).toBe(offline.appliedRevision);
    expect(away.appliedRevision).toBeLessThan(changed.revision);

    await a.start();
    // On start it serves its last applied config from disk, then converges to the new state.
    await a.waitServes('a.out.test', (r) => r.body === 'UB a.out.test/', 'serves the changed upstream');
    await a.waitServes('a2.out.test', (r) => r.status === 404 && r.body.includes(DEAD_TEXT), 'serves the route added while it was stopped');
    const back = await ctl.waitInSync(a.nodeId, { minRevision: added.revision });
    expect(back.appliedRevision).toBe(added.revision);
    await ctl.waitNode(a.nodeId, (n) => n.routeCount === 2, 'routeCount 2');
    expect(await a.caddyPid()).not.toBe(caddyPid);
  });

  it('(c) a managed Caddy killed with SIGKILL is restarted by its agent and serves again', async () => {
    const before = await a.status();
    const oldPid = before.caddy.pid!;
    process.kill(oldPid, 'SIGKILL');
    await waitPidGone(oldPid);
    const after = await waitFor(
      async () => {
        const s = await a.status();
        return s.caddy.pid && s.caddy.pid !== oldPid && s.caddy.restarts > before.caddy.restarts && s.loadCount > before.loadCount ? s : null;
      },
      { timeoutMs: 20_000, description: 'agent restarted Caddy and re-applied' },
    );
    expect(pidAlive(after.caddy.pid!)).toBe(true);
    await a.waitServes('a.out.test', (r) => r.body === 'UB a.out.test/', 'serves again after the Caddy restart');
    expect((await a.get('a2.out.test')).body).toContain(DEAD_TEXT);
    expect(a.running, a.describe()).toBe(true);
    const node = await ctl.waitInSync(a.nodeId);
    expect(node.appliedRevision).toBe(before.appliedRevision);
    expect(after.connected).toBe(true);
  });

  it('(b) with the controller stopped agents keep serving; when it returns all are online and in sync, no agent restarted', async () => {
    const live = agents.filter((x) => x !== d);
    const pids = await Promise.all(live.map(async (x) => ({ agent: x.pid, caddy: await x.caddyPid() })));
    const revisions = await Promise.all(live.map(async (x) => (await ctl.waitInSync(x.nodeId)).appliedRevision));

    await ctl.stop();
    // Agents notice, keep running, keep serving.
    for (const x of live) {
      const s = await waitFor(async () => {
        const st = await x.status();
        return st.connected ? null : st;
      }, { timeoutMs: 10_000, description: `${x.name} notices the controller is gone` });
      expect(s.controllerError).toBeTruthy();
    }
    const probes = [
      servingProbe(a, 'a.out.test', (r) => r.body === 'UB a.out.test/'),
      servingProbe(b, 'b.out.test', (r) => r.body === 'UB b.out.test/'),
      servingProbe(c, 'c.out.test', (r) => r.body === 'UC c.out.test/'),
    ];
    // Longer than the offline limit (3 × 1 s) and a few reconnect attempts (backoff ≤ 2 s).
    await sleep(4000);
    for (const p of probes) {
      const { requests, failures } = await p.stop();
      expect(failures).toEqual([]);
      expect(requests).toBeGreaterThan(5);
    }
    for (const [i, x] of live.entries()) {
      expect(x.pid, x.describe()).toBe(pids[i]!.agent);
      expect((await x.status()).connected).toBe(false);
    }

    await ctl.start();
    for (const [i, x] of live.entries()) {
      const n = await ctl.waitInSync(x.nodeId, { timeoutMs: 15_000 });
      expect(n.appliedRevision).toBe(revisions[i]);
      expect(x.pid, x.describe()).toBe(pids[i]!.agent);
      const s = await x.status();
      expect(s.connected).toBe(true);
      expect(s.caddy.pid).toBe(pids[i]!.caddy);
    }
    // d was stopped by nothing either and reconnects too.
    await ctl.waitInSync(d.nodeId);
  });

  it('(e) a change made while the controller was down reaches the node when it is back', async () => {
    const before = await ctl.waitInSync(b.nodeId);
    await ctl.stop();
    // The controller runs without its listener (agents cannot reach it) and its API changes b's route.
    await ctl.start({ listen: false });
    const changed = await ctl.patchRoute(routes.b!.id, { upstreams: [{ host: '127.0.0.1', port: up.UC!.port }] });
    expect(changed.revision).toBeGreaterThan(before.desiredRevision);
    await ctl.stop();
    // Nobody could tell b: it still serves the old state.
    expect((await b.get('b.out.test')).body).toBe('UB b.out.test/');

    await ctl.start();
    await b.waitServes('b.out.test', (r) => r.body === 'UC b.out.test/', 'serves the change made while the controller was down');
    const n = await ctl.waitInSync(b.nodeId, { minRevision: changed.revision });
    expect(n.appliedRevision).toBe(changed.revision);
    for (const x of agents) await ctl.waitInSync(x.nodeId);
  });

  it('(d)+(e) a silently dropped connection: offline on the controller, the agent reconnects by itself and gets what changed', async () => {
    const p = proxy!;
    const pid = c.pid;
    const caddyPid = await c.caddyPid();
    const before = await ctl.waitInSync(c.nodeId);
    const statusBefore = await c.status();
    expect(statusBefore.connected).toBe(true);
    const acceptedBefore = p.accepted;

    const probe = servingProbe(c, 'c.out.test', (r) => r.status === 200 && /^U[AC] c\.out\.test\/$/.test(r.body));
    p.pause();
    let resumed = false;
    try {
      // No close, no RST: the controller only notices the missing heartbeats.
      const offline = await ctl.waitStatus(c.nodeId, 'offline', 15_000);
      expect(offline.appliedRevision).toBe(before.appliedRevision);
      // Meanwhile a change for c: it cannot arrive while the link is dead.
      const changed = await ctl.patchRoute(routes.c!.id, { upstreams: [{ host: '127.0.0.1', port: up.UA!.port }] });
      await sleep(500);
      expect((await c.get('c.out.test')).body).toBe('UC c.out.test/');
      expect((await ctl.node(c.nodeId)).appliedRevision).toBe(before.appliedRevision);

      p.resume();
      resumed = true;
      await c.waitServes('c.out.test', (r) => r.body === 'UA c.out.test/', 'gets the change made while it was offline', 20_000);
      const back = await ctl.waitInSync(c.nodeId, { minRevision: changed.revision, timeoutMs: 20_000 });
      expect(back.appliedRevision).toBe(changed.revision);
    } finally {
      if (!resumed) p.resume();
    }
    const { requests, failures } = await probe.stop();
    expect(failures, 'c kept serving while its link was dead').toEqual([]);
    expect(requests).toBeGreaterThan(5);

    // The same process and the same Caddy: it reconnected on its own, over a new connection.
    expect(c.pid, c.describe()).toBe(pid);
    const s = await c.status();
    expect(s.connected).toBe(true);
    expect(s.caddy.pid).toBe(caddyPid);
    expect(s.caddy.restarts).toBe(statusBefore.caddy.restarts);
    expect(s.lastConnectedAt).not.toBe(statusBefore.lastConnectedAt);
    expect(p.accepted).toBeGreaterThan(acceptedBefore);
  });

  it('(f) a revoked node: its agent exits by itself, non-zero, saying it was revoked', async () => {
    const caddyPid = await d.caddyPid();
    const revoked = await ctl.ok('POST', `/nodes/${d.nodeId}/revoke`);
    expect(revoked).toMatchObject({ id: d.nodeId, status: 'offline' });
    const exit = await d.waitExit(15_000);
    expect(exit.code, d.describe()).not.toBe(0);
    expect(exit.code, d.describe()).not.toBeNull();
    expect(d.output()).toMatch(/error: agent stopped: agent key revoked by the controller/);
    // It took its Caddy down with it.
    await waitPidGone(caddyPid);
    expect(await d.tryGet('d.out.test', '/', 1000)).toBeNull();
    const node = await ctl.node(d.nodeId);
    expect(node.status).toBe('offline');
    expect(node.lastError).toMatch(/revoked/);

    // Started again with its revoked key, it refuses to go on, for the same reason.
    await d.start().catch(() => {});
    const again = await d.waitExit(15_000);
    expect(again.code, d.describe()).not.toBe(0);
    expect(d.proc!.output()).toMatch(/revoked/);
    expect((await ctl.node(d.nodeId)).status).toBe('offline');

    // The other nodes are unaffected.
    for (const x of [a, b, c]) await ctl.waitInSync(x.nodeId);
  });
});
