/**
 * big-node: one real agent (child process) serving a large node through a Caddy the bench started itself (the
 * agent drives it with `--caddy-admin`), so the bench reads Caddy's own log and knows when Caddy received and
 * finished each `POST /load`. The agent reaches the controller through a forwarder the bench can cut.
 *   - single creates/s: sequential POST /routes on a node holding 5,000 routes, its agent connected;
 *   - caddyfleet's share at 10,000 routes: API write returned → Caddy received `/load`;
 *   - full resync of the 10,000-route node: the agent's new connection accepted → Caddy finished `/load`,
 *     against a bare `/load` of the same config on the same Caddy.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { CaddyLoadLog } from '../lib/caddy-log';
import { recordFigure } from '../lib/figures';
import {
  benchDir,
  Cleanup,
  createInputs,
  createSite,
  enrollmentToken,
  freePort,
  startAgentNode,
  startBareCaddy,
  startBenchController,
  UpstreamBank,
  waitApplied,
  waitOnline,
} from '../lib/fleet';
import { Forwarder } from '../lib/forwarder';
import { HostTarget, pollServed, sleep, waitUntil } from '../lib/http';
import { tableInputs } from '../lib/route-table';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { ms, ratio, summarize } from '../lib/stats';
import { printKeyValues, printTable } from '../lib/table';

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const base = ctx.quick ? 1000 : 5000;
  const full = ctx.quick ? 2000 : 10_000;
  const creates = ctx.quick ? 20 : 100;
  const changes = ctx.quick ? 3 : 8;
  const resyncs = ctx.quick ? 1 : 3;
  const cleanup = new Cleanup();
  try {
    const dir = await benchDir(cleanup, 'bignode');
    const bank = await UpstreamBank.start(8);
    cleanup.add('close upstreams', () => bank.close());
    const alt = bank.ports.slice(4);
    // More routes than a node may hold by default (2,000).
    const { c, api } = await startBenchController(cleanup, join(dir.path, 'controller'), { maxRoutesPerNode: String(full + creates) });
    const fwd = await Forwarder.start(Number(new URL(c.url).port));
    cleanup.add('close forwarder', () => fwd.close());
    const adminPort = await freePort();
    const caddy = await startBareCaddy(cleanup, join(dir.path, 'caddy'), adminPort);
    const log = new CaddyLoadLog(caddy.proc.child.stderr!);
    const siteId = await createSite(api, 'bignode');
    const token = await enrollmentToken(api, siteId);
    const node = await startAgentNode(cleanup, { controllerUrl: fwd.url, token, stateDir: join(dir.path, 'agent'), ip: '127.0.0.6', name: 'big-node', caddyAdmin: caddy.adminListen });
    await waitOnline(api, node);
    const target = new HostTarget(node.ip, node.httpPort);
    cleanup.add('close poller', () => target.close());

    // The whole table is generated up front; the first `base` routes go in first.
    const table = tableInputs(full, { ports: bank.ports.slice(0, 4), prefix: 'b' });
    let t = performance.now();
    const routes = await createInputs(api, node.nodeId, table.slice(0, base));
    await waitApplied(api, node, base, 180_000);
    const setupBase = performance.now() - t;
    await sleep(1000);

    // ---- single creates/s at `base` routes
    t = performance.now();
    for (let i = 0; i < creates; i++) {
      await api.post('/routes', { kind: 'proxy', nodeId: node.nodeId, domains: [`c${String(i).padStart(4, '0')}.create.test`], upstreams: [{ host: '127.0.0.1', port: alt[0]! }], tls: 'off' });
    }
    const createMs = performance.now() - t;
    const perSecond = creates / (createMs / 1000);
    t = performance.now();
    await waitApplied(api, node, base + creates, 120_000);
    const createsApplied = performance.now() - t;

    // ---- fill up to `full` routes
    t = performance.now();
    routes.push(...(await createInputs(api, node.nodeId, table.slice(base, full - creates))));
    await waitApplied(api, node, full, 300_000);
    const setupFull = performance.now() - t;
    await sleep(1500);

    // ---- caddyfleet's share: API write returned → Caddy received /load
    const proxies = routes.filter((r) => r.kind === 'proxy' && r.domains.length === 1);
    const shares: number[] = [];
    const caddyLoads: number[] = [];
    const served: number[] = [];
    for (let k = 0; k < changes; k++) {
      const route = proxies[k * 7]!;
      const port = alt[k % alt.length]!;
      const tStart = Date.now();
      const p0 = performance.now();
      await api.patch(`/routes/${route.id}`, { upstreams: [{ host: '127.0.0.1', port }] });
      const tReturned = Date.now();
      const want = UpstreamBank.answer(port, route.domains[0]!);
      const res = await pollServed(target, route.domains[0]!, (r) => r.status === 200 && r.body === want, p0, { intervalMs: 5, timeoutMs: 30_000 });
      const received = CaddyLoadLog.firstAfter(log.received, tStart);
      await waitUntil('load complete logged', () => Number.isFinite(CaddyLoadLog.firstAfter(log.completed, received)), 10_000, 10);
      shares.push(received - tReturned);
      caddyLoads.push(CaddyLoadLog.firstAfter(log.completed, received) - received);
      served.push(res.ms);
      await sleep(700);
    }

    // ---- full resync: cut the agent's connection, change one route meanwhile, let it reconnect
    const resyncMs: number[] = [];
    for (let k = 0; k < resyncs; k++) {
      fwd.cut();
      await sleep(300);
      const route = proxies[1000 + k]!;
      const port = alt[(k + 1) % alt.length]!;
      await api.patch(`/routes/${route.id}`, { upstreams: [{ host: '127.0.0.1', port }] });
      const opened = Date.now();
      fwd.open();
      const want = UpstreamBank.answer(port, route.domains[0]!);
      const res = await pollServed(target, route.domains[0]!, (r) => r.status === 200 && r.body === want, performance.now(), { intervalMs: 5, timeoutMs: 60_000 });
      if (!Number.isFinite(res.ms)) throw new Error(`resync ${k}: ${route.domains[0]} not served within 60 s`);
      const accepted = fwd.accepts.filter((a) => a >= opened)[0] ?? NaN;
      // Caddy's log line may reach us a moment after the route answers.
      const completed = await waitUntil('load complete logged', () => CaddyLoadLog.firstAfter(log.completed, accepted) || null, 10_000, 10);
      resyncMs.push(completed - accepted);
      await waitOnline(api, node);
      await sleep(1000);
    }
    // The same config, loaded by itself on the same Caddy.
    const running = JSON.stringify(await caddy.admin.getConfig());
    const bareMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const b = performance.now();
      await caddy.admin.load(running);
      bareMs.push(performance.now() - b);
    }

    const share = summarize(shares);
    const loadS = summarize(caddyLoads);
    const servedS = summarize(served);
    const resync = summarize(resyncMs);
    const bare = summarize(bareMs);
    printKeyValues('big-node: set-up', [
      [`${base} routes created (batches of 250) and applied`, ms(setupBase)],
      [`filled up to ${full} routes and applied`, ms(setupFull)],
      [`${creates} single creates applied after the last answer`, ms(createsApplied)],
    ]);
    printTable(`big-node: ${full} routes on one node`, ['measure', 'n', 'p50', 'min', 'max'], [
      [`single POST /routes at ${base} routes (sequential)`, creates, ms(createMs / creates), '', ''],
      ['PATCH returned → Caddy received /load', share.n, ms(share.p50), ms(share.min), ms(share.max)],
      ['Caddy /load (received → complete)', loadS.n, ms(loadS.p50), ms(loadS.min), ms(loadS.max)],
      ['PATCH sent → served', servedS.n, ms(servedS.p50), ms(servedS.min), ms(servedS.max)],
      ['full resync: connection accepted → Caddy load complete', resync.n, ms(resync.p50), ms(resync.min), ms(resync.max)],
      ['bare /load of the same config, same Caddy', bare.n, ms(bare.p50), ms(bare.min), ms(bare.max)],
    ]);
    recordFigure({
      name: `caddyfleet's own share at ${full.toLocaleString('en')} routes (API write returned → Caddy receives /load), p50`,
      value: share.p50,
      unit: 'ms',
      goal: { op: '≤', value: 50 },
      detail: `${changes} PATCHes; Caddy's own load then took p50 ${ms(loadS.p50)}; change → served p50 ${ms(servedS.p50)}`,
    });
    recordFigure({
      name: `single route creates/s on a node holding ${base.toLocaleString('en')} routes, agent connected`,
      value: perSecond,
      unit: '/s',
      goal: { op: '≥', value: 150 },
      detail: `${creates} sequential POST /routes in ${ms(createMs)}`,
    });
    recordFigure({
      name: `full resync of a ${full.toLocaleString('en')}-route node / bare /load`,
      value: resync.p50 / bare.p50,
      unit: '×',
      goal: { op: '≤', value: 1.1 },
      detail: `reconnect accepted → load complete p50 ${ms(resync.p50)} vs bare /load p50 ${ms(bare.p50)} (same config, same Caddy)`,
    });
    return {
      metrics: { share: share.p50, perSecond, resyncRatio: resync.p50 / bare.p50 },
      summary: [
        `big-node: ${perSecond.toFixed(1)} creates/s at ${base} routes; share at ${full} routes p50 ${ms(share.p50)}; full resync ${ms(resync.p50)} = ${ratio(resync.p50, bare.p50)} bare /load (${ms(bare.p50)})`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const bigNode: Scenario = { name: 'big-node', title: '3. big-node (one real node: creates/s at 5,000 routes, share and full resync at 10,000; --quick: 1,000 / 2,000)', run };
