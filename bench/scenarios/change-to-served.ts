/**
 * change-to-served: one real node (agent child process + its managed Caddy on 127.0.0.2) holding 1,000 proxy
 * routes. Each change is one API write (PATCH a route's upstream, or POST a route with a fresh domain); we time
 * from just before the write until a request with that Host to the node's Caddy returns the new answer (the
 * upstream's reply names its port). The physical limit next to it: a bare `POST /load` of the same config
 * against a separate Caddy in the same run.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { buildCaddyConfig } from '@caddyfleet/caddy';
import { controllerFrameSchema, type Route } from '@caddyfleet/protocol';
import { desiredState } from '../../apps/controller/src/hub/desired-state';
import { mergeRoutes } from '../../apps/agent/src/merge';
import { DesiredRoutes, type DeltaFrame } from '../../apps/agent/src/desired-routes';
import { NodeRoutes } from '../../apps/controller/src/hub/node-routes';
import { recordFigure } from '../lib/figures';
import { sampleProc } from '../lib/procstat';
import { Cleanup, freePort, setupLoadedNode, startBareCaddy, UpstreamBank } from '../lib/fleet';
import { HostTarget, pollServed, sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { int, ms, ratio, summarize } from '../lib/stats';
import { printKeyValues, printTable } from '../lib/table';

interface Change {
  kind: 'patch' | 'create';
  apiMs: number;
  servedMs: number;
  polls: number;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const routeCount = ctx.quick ? 200 : 1000;
  const warmup = ctx.quick ? 1 : 3;
  const measured = ctx.quick ? 10 : 100;
  const loads = ctx.quick ? 5 : 25;
  const cleanup = new Cleanup();
  try {
    const setup = await setupLoadedNode(cleanup, { name: 'c2s', ip: '127.0.0.2', routeCount, upstreams: 8 });
    const { ctl, node, target, routes, bank } = setup;
    const api = ctl.api;
    const alt = bank.ports.slice(1);

    // ---- changes through the API, timed until served
    const loadsBefore = (await node.local.status()).loadCount;
    const cpuOf = (pid: number | null) => {
      try {
        return pid === null ? NaN : sampleProc(pid, 0).cpuSeconds;
      } catch {
        return NaN;
      }
    };
    const cpu0 = { agent: cpuOf(node.proc.pid), caddy: cpuOf(node.caddyPid), bench: process.cpuUsage() };
    const changes: Change[] = [];
    let timeouts = 0;
    for (let i = 0; i < warmup + measured; i++) {
      const port = alt[i % alt.length]!;
      const kind: Change['kind'] = i % 2 === 0 ? 'patch' : 'create';
      let domain: string;
      const t0 = performance.now();
      if (kind === 'patch') {
        const route = routes[i]!;
        domain = route.domains[0]!;
        await api.patch(`/routes/${route.id}`, { upstreams: [{ host: '127.0.0.1', port }] });
      } else {
        domain = `new-${String(i).padStart(4, '0')}.bench.test`;
        await api.post('/routes', { kind: 'proxy', nodeId: node.nodeId, domains: [domain], upstreams: [{ host: '127.0.0.1', port }], tls: 'off' });
      }
      const apiMs = performance.now() - t0;
      const want = UpstreamBank.answer(port, domain);
      const res = await pollServed(target, domain, (r) => r.status === 200 && r.body === want, t0, { intervalMs: 2, timeoutMs: 20_000 });
      if (Number.isNaN(res.ms)) {
        timeouts++;
        process.stderr.write(`change-to-served: change ${i} (${kind} ${domain}) not served within 20 s; last reply ${JSON.stringify(res.last)}\n`);
      }
      if (i >= warmup) changes.push({ kind, apiMs, servedMs: res.ms, polls: res.polls });
      await sleep(100); // let the agent finish its bookkeeping (ack, applied.json) before the next change
    }
    const loadsAfter = (await node.local.status()).loadCount;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const nChanges = warmup + measured;
    const cpuPerChange = {
      agent: ((cpuOf(node.proc.pid) - cpu0.agent) / nChanges) * 1000,
      caddy: ((cpuOf(node.caddyPid) - cpu0.caddy) / nChanges) * 1000,
      bench: ((benchCpu.user + benchCpu.system) / 1e6 / nChanges) * 1000,
    };
    const served = changes.filter((c) => Number.isFinite(c.servedMs));
    const all = summarize(served.map((c) => c.servedMs));
    const patches = summarize(served.filter((c) => c.kind === 'patch').map((c) => c.servedMs));
    const creates = summarize(served.filter((c) => c.kind === 'create').map((c) => c.servedMs));
    const apiLat = summarize(changes.map((c) => c.apiMs));

    // ---- the physical limit: bare POST /load of the same config against a separate Caddy
    const finalRoutes = await api.get<Route[]>(`/routes?nodeId=${node.nodeId}`);
    const bare = await startBareCaddy(cleanup, join(setup.dir.path, 'bare-caddy'));
    const bareIp = '127.0.0.3';
    const bareHttp = await freePort(bareIp);
    let bareHttps = await freePort(bareIp);
    if (bareHttps === bareHttp) bareHttps = await freePort(bareIp);
    const built = buildCaddyConfig(finalRoutes, {
      httpListen: `${bareIp}:${bareHttp}`,
      httpsListen: `${bareIp}:${bareHttps}`,
      adminListen: bare.adminListen,
      layer4: false,
      storageDir: bare.storageDir,
    });
    const body = JSON.stringify(built.config);
    const loadTimes: number[] = [];
    let bareCpu0 = NaN;
    for (let i = 0; i < 2 + loads; i++) {
      if (i === 2) bareCpu0 = cpuOf(bare.proc.pid);
      const t0 = performance.now();
      await bare.admin.load(body); // CaddyAdmin.load sends Cache-Control: must-revalidate
      if (i >= 2) loadTimes.push(performance.now() - t0);
    }
    const bareCpuPerLoad = ((cpuOf(bare.proc.pid) - bareCpu0) / loads) * 1000;
    const bareTarget = new HostTarget(bareIp, bareHttp);
    const probe = finalRoutes[0]!;
    const probeWant = UpstreamBank.answer(probe.upstreams[0]!.port, probe.domains[0]!);
    await waitUntil('bare Caddy serves the config', async () => (await bareTarget.tryGet(probe.domains[0]!))?.body === probeWant, 5000, 20);
    bareTarget.close();
    const bareSum = summarize(loadTimes);

    // ---- where the time goes: the CPU-bound steps of one change, re-run here on the same routes (median of 15)
    const median = (fn: () => unknown) => {
      const t: number[] = [];
      for (let i = 0; i < 15; i++) {
        const a = performance.now();
        fn();
        t.push(performance.now() - a);
      }
      return summarize(t).p50;
    };
    // One upstream edit, as the pipeline now carries it: a delta from the hub's in-memory routes to the agent,
    // which applies it to the routes it holds and renders the whole config once.
    const desired = (await desiredState(ctl.c.services.ctx, node.nodeId))!;
    const edited = { ...desired.routes[0]!, upstreams: [{ host: '127.0.0.1', port: 9 }], revision: desired.revision + 1 };
    const held = new DesiredRoutes();
    const buildOpts = { httpListen: `${bareIp}:${bareHttp}`, httpsListen: `${bareIp}:${bareHttps}`, adminListen: bare.adminListen, layer4: false, storageDir: bare.storageDir };
    let frameText = '';
    const steps = {
      frame: median(() => {
        const cache = new NodeRoutes(desired.revision, desired.routes);
        cache.apply({ nodeId: node.nodeId, revision: desired.revision + 1, upsert: edited });
        frameText = cache.deltaFrame(desired.revision, 10_000)!;
      }),
      parse: median(() => controllerFrameSchema.safeParse(JSON.parse(frameText))),
      render: median(() => {
        held.reset(desired.revision, desired.routes);
        held.apply(JSON.parse(frameText) as DeltaFrame);
        const { routes: merged } = mergeRoutes(held.list(), [], node.nodeId);
        JSON.stringify(buildCaddyConfig(merged, buildOpts).config);
      }),
    };

    printKeyValues(`change-to-served: set-up (${routeCount} routes on one node)`, [
      ['agent start → online', ms(setup.setupMs.agentStart)],
      [`create ${routeCount} routes (POST /routes/batch ×${Math.ceil(routeCount / 250)})`, ms(setup.setupMs.createRoutes)],
      ['batch end → all served', ms(setup.setupMs.firstApply)],
    ]);
    printTable(
      `change-to-served: ${served.length}/${changes.length} changes (after ${warmup} warm-up), node with ${finalRoutes.length} routes, poll every 2 ms`,
      ['measure', 'n', 'p50', 'p90', 'p99', 'max', 'min'],
      [
        ['change → served (all)', all.n, ms(all.p50), ms(all.p90), ms(all.p99), ms(all.max), ms(all.min)],
        ['  PATCH upstream', patches.n, ms(patches.p50), ms(patches.p90), ms(patches.p99), ms(patches.max), ms(patches.min)],
        ['  POST new domain', creates.n, ms(creates.p50), ms(creates.p90), ms(creates.p99), ms(creates.max), ms(creates.min)],
        ['  of which API write answered', apiLat.n, ms(apiLat.p50), ms(apiLat.p90), ms(apiLat.p99), ms(apiLat.max), ms(apiLat.min)],
        [`bare POST /load (${built.served} routes, ${(body.length / 1024).toFixed(0)} KiB)`, bareSum.n, ms(bareSum.p50), ms(bareSum.p90), ms(bareSum.p99), ms(bareSum.max), ms(bareSum.min)],
      ],
    );
    const stepsSum = apiLat.p50 + steps.frame + steps.parse + steps.render + bareSum.p50;
    printTable(
      'change-to-served: where the time goes (estimate: the steps of one change re-timed in the bench process, median of 15)',
      ['step', 'time', 'note'],
      [
        ['hub: gathering edits', ms(0), 'a lone edit to an idle node is pushed at once'],
        ['API write (PATCH or POST answered)', ms(apiLat.p50), 'measured above: HTTP, validation, one transaction'],
        ['controller: delta frame from the in-memory routes', ms(steps.frame), `${(frameText.length / 1024).toFixed(1)} KiB, node of ${desired.routes.length} routes (includes copying them into a cache)`],
        ['agent: parse + validate the delta (zod)', ms(steps.parse), ''],
        ['agent: apply delta + merge + build + JSON', ms(steps.render), 'before /load'],
        ['Caddy: POST /load (bare p50)', ms(bareSum.p50), ''],
        ['sum', ms(stepsSum), `measured change→served p50 ${ms(all.p50)}; the rest: I/O, scheduling, 2 ms polls`],
      ],
    );
    printKeyValues('change-to-served: CPU per change (from /proc and process.cpuUsage)', [
      ['agent process', ms(cpuPerChange.agent), 'sync parse, render, /load client, applied.json, ack, status'],
      ['its Caddy', ms(cpuPerChange.caddy), 'config load and the 2 ms polls'],
      ['bare Caddy, per bare /load (reference)', ms(bareCpuPerLoad), 'config load only, nothing polling'],
      ['bench process', ms(cpuPerChange.bench), 'controller (in process), poller, upstreams'],
    ]);
    const loadsPerChange = (loadsAfter - loadsBefore) / (warmup + measured);
    printKeyValues('change-to-served: ratio to the physical limit', [
      ['change→served p50 / bare load p50', ratio(all.p50, bareSum.p50), 'ideal 1.00× (the agent does one /load per change)'],
      ['change→served p99 / bare load p99', ratio(all.p99, bareSum.p99), ''],
      ['overhead p50 (change→served − bare load)', ms(all.p50 - bareSum.p50), 'API write, sync, render, Caddy switching to the new config, poll granularity'],
      ['agent /load calls per change', loadsPerChange.toFixed(2), `${loadsAfter - loadsBefore} loads for ${warmup + measured} changes`],
      ['changes not served within 20 s', int(timeouts), ''],
    ]);
    recordFigure({
      name: `change-to-served / bare /load of the same config, ${finalRoutes.length.toLocaleString('en')} routes (p50)`,
      value: all.p50 / bareSum.p50,
      unit: '×',
      goal: { op: '≤', value: 1.1 },
      detail: `change → served p50 ${ms(all.p50)} (${served.length} changes) vs bare /load p50 ${ms(bareSum.p50)}`,
    });
    return {
      metrics: { p50: all.p50, p99: all.p99, max: all.max, bareP50: bareSum.p50, bareP99: bareSum.p99, ratio: all.p50 / bareSum.p50, timeouts },
      summary: [
        `change-to-served (${finalRoutes.length} routes): p50 ${ms(all.p50)}, p99 ${ms(all.p99)}, max ${ms(all.max)}; bare /load p50 ${ms(bareSum.p50)} → ${ratio(all.p50, bareSum.p50)} the physical limit`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const changeToServed: Scenario = { name: 'change-to-served', title: '1. change-to-served (one real node with 1,000 routes; --quick: 200)', run };
