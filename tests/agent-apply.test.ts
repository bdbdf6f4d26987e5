/**
 * The agent's apply path against a real Caddy (Debian's 2.6.2 and the layer4 build, see helpers/caddy-bins.ts;
 * managed by the agent's supervisor), without a
 * controller: syncs are fed to the applier directly, then a full agent is started on the same state dir to
 * check that it serves from applied.json on its own and that local routes work through the unix-socket API.
 * Only tls 'off' routes are served (no ACME); every request goes to 127.0.0.1 with a Host header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CaddyAdmin, NO_LAYER4_REASON, type BuildOptions } from '@caddyfleet/caddy';
import { loadAgentOptions, startAgent, LocalApiClient, LocalApiError, type RunningAgent } from '@caddyfleet/agent';
import { Applier, type ApplyOutcome } from '../apps/agent/src/apply';
import { ManagedCaddy } from '../apps/agent/src/caddy-process';
import { DriftChecker } from '../apps/agent/src/drift';
import { StateStore } from '../apps/agent/src/state';
import { bodyOf, captureLogger, makeRoute as centralRoute, httpGet, startUpstream, type Upstream } from '../apps/agent/test-support/fixtures';
import { caddyFlavors } from './helpers/caddy-bins';
import { freePort, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './helpers/processes';
import { tcpEcho, tcpExchange, type StreamServer } from './helpers/stream-servers';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

// Throws under CI=true when a Caddy is missing; locally it warns and that Caddy's suites skip.
for (const flavor of caddyFlavors()) {
  const CADDY = flavor.bin ?? '';
  // Revision 7 also holds a stream route, which only the layer4 Caddy serves.
  const served = (httpRoutes: number) => httpRoutes + (flavor.layer4 ? 1 : 0);

  describe.skipIf(!flavor.bin)(`agent: applier and supervisor with a managed Caddy (${flavor.label})`, () => {
    let dir: TempDir;
    let state: StateStore;
    let caddy: ManagedCaddy;
    let applier: Applier;
    let drift: DriftChecker;
    let upA: Upstream;
    let upB: Upstream;
    let busy: Server;
    let httpPort = 0;
    let busyPort = 0;
    let stoppedForAgentTests = false;
    const logger = captureLogger();
    const acks: unknown[] = [];

    const routeA = () => centralRoute('r_a', { domains: ['a.test'], upstreams: [{ host: '127.0.0.1', port: upA.port }] });
    const routeB = () => centralRoute('r_b', { domains: ['b.test'], upstreams: [{ host: '127.0.0.1', port: upB.port }] });

    beforeAll(async () => {
      dir = await tempDir('caddyfleet-agent-apply-');
      upA = await startUpstream('A');
      upB = await startUpstream('B');
      httpPort = await freePort();
      // The HTTPS listener's port is held by another server: any config that renders the HTTPS server (a route
      // with tls 'internal') is one Caddy must refuse, which is how the rejection test gets a real refusal.
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      busyPort = (busy.address() as { port: number }).port;

      state = new StateStore(join(dir.path, 'state'));
      await state.init();
      caddy = new ManagedCaddy({
        bin: CADDY,
        dir: state.caddyDir,
        log: logger.log,
        onStarted: () => applier.restore(),
        onGiveUp: () => {},
        restartMinMs: 100,
        restartMaxMs: 500,
      });
      const build: BuildOptions = {
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${busyPort}`,
        adminListen: caddy.adminListen,
        layer4: flavor.layer4,
        storageDir: caddy.storageDir,
      };
      applier = new Applier({
        admin: caddy.admin,
        build,
        state,
        localRoutes: () => [],
        nodeId: 'node_test',
        log: logger.log,
        onAck: (a) => acks.push(a),
        // As the agent wires it for a managed Caddy.
        onStartFailure: (error) => void caddy.restart(error),
      });
      await applier.init();
      drift = new DriftChecker(applier, 0, logger.log);
      await caddy.start();
    });

    afterAll(async () => {
      if (!stoppedForAgentTests) await caddy?.stop();
      await upA?.close();
      await upB?.close();
      await new Promise<void>((resolve) => (busy ? busy.close(() => resolve()) : resolve()));
      await dir?.cleanup();
    });

    it('serves a proxied route from a sync, acks it and persists applied.json 0600', async () => {
      const outcome = await applier.applySync({ type: 'sync', revision: 1, routes: [routeA()] });
      expect(outcome).toMatchObject({ ok: true, revision: 1, loaded: true, routeErrors: [] });
      expect(acks.at(-1)).toEqual({ type: 'ack', revision: 1, ok: true, routeErrors: [] });
      const res = await httpGet(httpPort, 'a.test', '/hello');
      expect(res).toEqual({ status: 200, body: 'A a.test/hello' });
      // applied.json is written after the ack, in the background.
      await applier.persisted();
      const applied = JSON.parse(await readFile(state.appliedFile, 'utf8')) as { revision: number; routes: unknown[] };
      expect(applied.revision).toBe(1);
      expect(applied.routes).toHaveLength(1);
      expect(await mode(state.appliedFile)).toBe(0o600);
      expect(applier.served).toBe(1);
    });

    it('skips /load when the rendered config is unchanged, but still acks and records the revision', async () => {
      const before = applier.loadCount;
      const outcome = await applier.applySync({ type: 'sync', revision: 2, routes: [routeA()] });
      expect(outcome).toMatchObject({ ok: true, revision: 2, loaded: false });
      expect(applier.loadCount).toBe(before);
      expect(acks.at(-1)).toMatchObject({ type: 'ack', revision: 2, ok: true });
      expect(applier.appliedRevision).toBe(2);
      await applier.persisted();
      expect((await state.readApplied())?.revision).toBe(2);
      expect(logger.text()).toContain('load skipped: config unchanged');
    });

    it('applies only the newest of several syncs that arrive while one is being applied', async () => {
      const before = applier.loadCount;
      const acksBefore = acks.length;
      // Revision 3 arrives alone and starts; 4, 5 and 6 arrive while it runs: 4 and 5 are superseded by 6.
      const first = applier.applySync({ type: 'sync', revision: 3, routes: [routeA(), routeB()] });
      await new Promise((resolve) => setImmediate(resolve));
      const results = await Promise.all([
        first,
        applier.applySync({ type: 'sync', revision: 4, routes: [routeB()] }),
        applier.applySync({ type: 'sync', revision: 5, routes: [routeA()] }),
        applier.applySync({ type: 'sync', revision: 6, routes: [routeA(), routeB()] }),
      ]);
      expect(results.map((r) => r?.revision ?? null)).toEqual([3, null, null, 6]);
      expect(applier.loadCount - before).toBeLessThanOrEqual(2);
      expect(acks.slice(acksBefore).map((a) => (a as { revision: number }).revision)).toEqual([3, 6]);
      expect(await bodyOf(httpPort, 'b.test')).toBe('B b.test/');
      expect(applier.appliedRevision).toBe(6);
    });

    it(flavor.layer4 ? 'serves a stream route (TCP echo through it)' : "reports routes it cannot serve in the ack's routeErrors (stream without layer4)", async () => {
      const echo: StreamServer = await tcpEcho('S');
      try {
        const port = await freePort();
        const stream = centralRoute('r_s', { kind: 'stream', domains: [], listen: { port, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.1', port: echo.port }] });
        const outcome = await applier.applySync({ type: 'sync', revision: 7, routes: [routeA(), routeB(), stream] });
        const routeErrors = flavor.layer4 ? [] : [{ routeId: 'r_s', error: NO_LAYER4_REASON }];
        expect(outcome).toMatchObject({ ok: true, routeErrors });
        expect(acks.at(-1)).toMatchObject({ revision: 7, ok: true, routeErrors });
        if (flavor.layer4) expect((await tcpExchange(port, 'ping')).reply).toBe('S:ping');
        else await expect(tcpExchange(port, 'ping')).rejects.toThrow();
      } finally {
        await echo.close();
      }
    });

    it("acks a config Caddy rejects with ok:false and Caddy's message; the old config keeps serving and is not persisted", async () => {
      const restartsBefore = caddy.restarts;
      const secure = centralRoute('r_tls', { domains: ['secure.test'], upstreams: [{ host: '127.0.0.1', port: upA.port }], tls: 'internal' });
      const outcome = (await applier.applySync({ type: 'sync', revision: 8, routes: [routeA(), secure] })) as ApplyOutcome;
      expect(outcome.ok).toBe(false);
      expect(outcome.rejected).toBe(true);
      expect(outcome.error).toMatch(new RegExp(`${busyPort}.*(address already in use|bind)|(address already in use|bind).*${busyPort}`));
      const ack = acks.at(-1) as { revision: number; ok: boolean; error: string };
      expect(ack).toMatchObject({ type: 'ack', revision: 8, ok: false });
      expect(ack.error).toBe(outcome.error);
      // A refusal while starting listeners leaves the refused config's HTTP server running next to the old one
      // in Caddy 2.6 (caddyserver/caddy#7175), so the supervisor restarts Caddy and restores applied.json.
      await waitFor(() => caddy.restarts > restartsBefore, { timeoutMs: 20_000, description: 'Caddy restarted after the refused config' });
      await waitFor(() => bodyOf(httpPort, 'b.test'), { timeoutMs: 10_000, description: 'b.test served after the restart' });
      // Previous config (revision 7: a.test and b.test) served, consistently; nothing persisted.
      for (let i = 0; i < 10; i++) {
        expect(await bodyOf(httpPort, 'a.test')).toBe('A a.test/');
        expect(await bodyOf(httpPort, 'b.test')).toBe('B b.test/');
        expect((await httpGet(httpPort, 'secure.test')).status).toBe(404);
      }
      expect(await caddy.admin.getConfig()).toEqual(applier.expectedConfig);
      expect(applier.appliedRevision).toBe(7);
      await applier.persisted();
      expect((await state.readApplied())?.revision).toBe(7);
    });

    it('restarts Caddy after kill -9 and serves the applied config again', async () => {
      const oldPid = caddy.pid!;
      const restartsBefore = caddy.restarts;
      process.kill(oldPid, 'SIGKILL');
      await waitFor(() => caddy.restarts > restartsBefore && caddy.pid !== oldPid, { timeoutMs: 20_000, description: 'Caddy restarted' });
      expect(await waitFor(() => bodyOf(httpPort, 'a.test'), { timeoutMs: 10_000, description: 'a.test served again' })).toBe('A a.test/');
      expect(await bodyOf(httpPort, 'b.test')).toBe('B b.test/');
      expect(logger.text()).toMatch(/Caddy exited unexpectedly/);
      expect(logger.text()).toMatch(/Caddy restarted/);
    });

    it('repairs drift: a config changed behind the agent is re-loaded by the next check and flagged once', async () => {
      // The restore after the previous test's restart may still be finishing its bookkeeping.
      await waitFor(() => applier.expectedConfig, { timeoutMs: 10_000, description: 'the restored config recorded' });
      // Someone loads a config without b.test straight into Caddy's admin API.
      const config = structuredClone(applier.expectedConfig!) as { apps: { http: { servers: Record<string, { routes: unknown[] }> } } };
      const server = config.apps.http.servers.srv_http!;
      server.routes = server.routes.filter((r) => !JSON.stringify(r).includes('b.test'));
      await new CaddyAdmin(caddy.adminListen).load(config);
      expect(await bodyOf(httpPort, 'b.test')).toBeNull();

      expect(await drift.checkNow()).toBe('repaired');
      expect(await bodyOf(httpPort, 'b.test')).toBe('B b.test/');
      expect(drift.repairs).toBe(1);
      expect(drift.takeDriftFlag()).toBe(true);
      expect(drift.takeDriftFlag()).toBe(false);
      expect(await drift.checkNow()).toBe('ok');
      expect(logger.text()).toContain('drift repaired');
    });

    describe('a full agent on the same state dir (controller unreachable)', () => {
      let agent: RunningAgent | undefined;
      let client: LocalApiClient;
      const agentLog = captureLogger();

      beforeAll(async () => {
        await caddy.stop();
        stoppedForAgentTests = true;
        expect(await bodyOf(httpPort, 'a.test')).toBeNull();
        const deadPort = await freePort();
        await state.writeAgent({ controller: `http://127.0.0.1:${deadPort}`, nodeId: 'node_test', agentKey: 'cfa_test_key_0123456789abcdefghij' });
        const opts = loadAgentOptions(
          {
            stateDir: state.dir,
            caddyBin: CADDY,
            httpListen: `127.0.0.1:${httpPort}`,
            httpsListen: `127.0.0.1:${busyPort}`,
            driftCheckSeconds: 0,
            reconnectMinMs: 200,
            reconnectMaxMs: 1000,
          },
          {},
        );
        agent = await startAgent(opts, { logger: agentLog.log });
        client = LocalApiClient.forStateDir(state.dir);
      });

      afterAll(async () => {
        await agent?.stop();
      });

      it('serves the last applied config from applied.json right after start', async () => {
        expect(await bodyOf(httpPort, 'a.test')).toBe('A a.test/');
        expect(await bodyOf(httpPort, 'b.test')).toBe('B b.test/');
        const s = agent!.status();
        expect(s).toMatchObject({ nodeId: 'node_test', connected: false, appliedRevision: 7, routeCount: served(2), loadCount: 1 });
        expect(s.caddy).toMatchObject({ managed: true, version: expect.stringMatching(/^v?2\.\d+/), layer4: flavor.layer4 });
        expect(agentLog.text()).toContain('restored the last applied config from applied.json');
      });

      it('serves local routes added through the unix-socket API and reports ones that collide with central routes', async () => {
        expect(await mode(join(state.dir, 'agent.sock'))).toBe(0o600);
        const added = await client.add({ kind: 'proxy', domains: ['local.test'], upstreams: [{ host: '127.0.0.1', port: upB.port }], tls: 'off' });
        expect(added.applied).toBe(true);
        expect(added.route).toMatchObject({ id: expect.stringMatching(/^loc_[0-9a-f]{16}$/), scope: 'local_only', origin: 'local', lastError: null });
        expect(await bodyOf(httpPort, 'local.test')).toBe('B local.test/');

        const clash = await client.add({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: '127.0.0.1', port: upB.port }], tls: 'off' });
        expect(clash.applied).toBe(true);
        expect(clash.route.lastError).toBe('domain a.test conflicts with central route r_a');
        // The central route keeps the domain.
        expect(await bodyOf(httpPort, 'a.test')).toBe('A a.test/');

        const listed = await client.list();
        expect(listed.map((r) => [r.id, r.lastError])).toEqual([
          [added.route.id, null],
          [clash.route.id, 'domain a.test conflicts with central route r_a'],
        ]);
        const status = await client.status();
        expect(status.localRouteCount).toBe(2);
        expect(status.routeErrors).toContainEqual({ routeId: clash.route.id, error: 'domain a.test conflicts with central route r_a' });
        expect(status.routeCount).toBe(served(3));
        expect(await mode(state.localRoutesFile)).toBe(0o600);

        await client.remove(clash.route.id);
        await client.remove(added.route.id);
        expect(await bodyOf(httpPort, 'local.test')).toBeNull();
        expect(await client.list()).toEqual([]);
      });

      it('refuses bad local routes with the field, and unknown ids with 404', async () => {
        const bad = await client.add({ kind: 'proxy', domains: ['no_underscores.test'], upstreams: [{ host: '127.0.0.1', port: 1 }] }).catch((e: unknown) => e);
        expect(bad).toBeInstanceOf(LocalApiError);
        expect(bad).toMatchObject({ status: 400, code: 'validation_failed' });
        expect((bad as Error).message).toMatch(/domains\.0/);
        await expect(client.remove('loc_nope')).rejects.toMatchObject({ status: 404, code: 'not_found' });
        await client.add({ kind: 'dead', domains: ['gone.test'], tls: 'off' });
        await expect(client.add({ kind: 'dead', domains: ['gone.test'], tls: 'off' })).rejects.toMatchObject({ status: 409, code: 'local_route_conflict' });
        for (const r of await client.list()) await client.remove(r.id);
      });

      it('refuses a local route Caddy rejects, and does not keep it', async () => {
        // tls internal renders the HTTPS server on the busy port.
        const err = await client.add({ kind: 'proxy', domains: ['tls.test'], upstreams: [{ host: '127.0.0.1', port: upA.port }], tls: 'internal' }).catch((e: unknown) => e);
        expect(err).toMatchObject({ status: 422, code: 'caddy_rejected' });
        expect((err as Error).message).toMatch(/address already in use/);
        expect(await client.list()).toEqual([]);
        await waitFor(() => agent!.status().caddy.restarts > 0, { timeoutMs: 20_000, description: 'Caddy restarted after the refused config' });
        expect(await waitFor(() => bodyOf(httpPort, 'a.test'), { timeoutMs: 10_000 })).toBe('A a.test/');
        for (let i = 0; i < 5; i++) expect((await httpGet(httpPort, 'tls.test')).status).toBe(404);
      });

      it('keeps a second agent off the same state dir', async () => {
        const opts = loadAgentOptions({ stateDir: state.dir, caddyBin: CADDY, httpListen: `127.0.0.1:${httpPort}`, httpsListen: `127.0.0.1:${busyPort}` }, {});
        await expect(startAgent(opts, { logger: captureLogger().log })).rejects.toThrow(/another agent is already running/);
        // The first agent's Caddy is untouched.
        expect(await bodyOf(httpPort, 'a.test')).toBe('A a.test/');
      });
    });
  });

  describe.skipIf(!flavor.bin)(`agent: existing Caddy (--caddy-admin, ${flavor.label})`, () => {
    let dir: TempDir;
    let caddyProc: LoggedProcess;
    let agent: RunningAgent | undefined;
    let up: Upstream;
    let adminPort = 0;
    let httpPort = 0;

    beforeAll(async () => {
      dir = await tempDir('caddyfleet-agent-existing-');
      up = await startUpstream('X');
      adminPort = await freePort();
      httpPort = await freePort();
      const boot = join(dir.path, 'boot.json');
      await writeFile(boot, JSON.stringify({ admin: { listen: `127.0.0.1:${adminPort}` } }));
      caddyProc = spawnLogged(CADDY, ['run', '--config', boot], {
        name: 'caddy',
        env: { ...process.env, HOME: dir.path, XDG_CONFIG_HOME: join(dir.path, 'config'), XDG_DATA_HOME: join(dir.path, 'data') },
      });
      const admin = new CaddyAdmin(`127.0.0.1:${adminPort}`);
      await waitFor(() => admin.ping(), { timeoutMs: 10_000, description: 'existing Caddy up' });
    });

    afterAll(async () => {
      await agent?.stop();
      await caddyProc?.stop();
      await up?.close();
      await dir?.cleanup();
    });

    it('applies local routes through the given admin endpoint and keeps that endpoint in the config', async () => {
      const stateDir = join(dir.path, 'state');
      const store = new StateStore(stateDir);
      await store.init();
      await store.writeAgent({ controller: `http://127.0.0.1:${await freePort()}`, nodeId: 'node_ex', agentKey: 'cfa_test_key_0123456789abcdefghij' });
      const httpsPort = await freePort();
      const opts = loadAgentOptions(
        { stateDir, caddyAdmin: `http://127.0.0.1:${adminPort}`, httpListen: `127.0.0.1:${httpPort}`, httpsListen: `127.0.0.1:${httpsPort}`, reconnectMinMs: 200, reconnectMaxMs: 1000 },
        {},
      );
      agent = await startAgent(opts, { logger: captureLogger().log });
      await agent.localRoutes.add({ kind: 'proxy', domains: ['x.test'], upstreams: [{ host: '127.0.0.1', port: up.port }], tls: 'off' });
      expect(await bodyOf(httpPort, 'x.test')).toBe('X x.test/');
      const running = (await new CaddyAdmin(`127.0.0.1:${adminPort}`).getConfig()) as { admin: { listen: string }; storage?: unknown };
      expect(running.admin.listen).toBe(`127.0.0.1:${adminPort}`);
      // Its own storage is left alone.
      expect(running.storage).toBeUndefined();
      // The admin API cannot list modules; layer4 is probed through POST /adapt.
      expect(agent.status()).toMatchObject({ caddy: { managed: false, version: null, layer4: flavor.layer4, pid: null }, certCount: 0, routeCount: 1 });
      // stop() leaves an existing Caddy running.
      await agent.stop();
      agent = undefined;
      expect(await bodyOf(httpPort, 'x.test')).toBe('X x.test/');
    });
  });
}
