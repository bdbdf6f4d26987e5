/**
 * fan-out: 20 real agents (child processes), each with its own managed Caddy on 127.0.0.10–127.0.0.29. One route
 * group = the same domain on all 20 nodes. One change = ONE `POST /routes/batch` updating all 20 copies; we time
 * until every node's Caddy serves the new upstream. For reference, single-copy changes in the same fleet (one
 * PATCH, one node) and the single-node change-to-served p50 of scenario 1 when it ran in this process.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Route } from '@caddyfleet/protocol';
import {
  benchDir,
  Cleanup,
  createSite,
  enrollmentToken,
  startAgentNode,
  startBenchController,
  UpstreamBank,
  waitApplied,
  waitOnline,
  type AgentNode,
} from '../lib/fleet';
import { HostTarget, pollServed, sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { int, ms, ratio, secs, summarize } from '../lib/stats';
import { sampleProc } from '../lib/procstat';
import { printKeyValues, printTable } from '../lib/table';

const DOMAIN = 'group.bench.test';

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const nodeCount = ctx.quick ? 5 : 20;
  const repeats = ctx.quick ? 3 : 8;
  const singles = ctx.quick ? 3 : 8;
  const warmup = 1;
  const cleanup = new Cleanup();
  try {
    const dir = await benchDir(cleanup, 'fanout');
    const bank = await UpstreamBank.start(8);
    cleanup.add('close upstreams', () => bank.close());
    const alt = bank.ports.slice(1);
    const { c, api } = await startBenchController(cleanup, join(dir.path, 'controller'));
    const siteId = await createSite(api, 'fanout');

    // ---- 20 agents, started a few at a time (2 cores)
    const tStart = performance.now();
    const nodes: AgentNode[] = [];
    for (let i = 0; i < nodeCount; i += 5) {
      const batch = [];
      for (let j = i; j < Math.min(nodeCount, i + 5); j++) {
        batch.push(
          enrollmentToken(api, siteId).then((token) =>
            startAgentNode(cleanup, { controllerUrl: c.url, token, stateDir: join(dir.path, `a${j}`), ip: `127.0.0.${10 + j}`, name: `fan-${j}` }),
          ),
        );
      }
      nodes.push(...(await Promise.all(batch)));
    }
    await Promise.all(nodes.map((n) => waitOnline(api, n, 60_000)));
    const startMs = performance.now() - tStart;
    const targets = nodes.map((n) => new HostTarget(n.ip, n.httpPort));
    cleanup.add('close pollers', () => targets.forEach((t) => t.close()));

    // ---- the route group: the same domain on every node, created in one batch
    const created = await api.post<{ created: Route[] }>('/routes/batch', {
      create: nodes.map((n) => ({ kind: 'proxy', nodeId: n.nodeId, domains: [DOMAIN], upstreams: [{ host: '127.0.0.1', port: bank.ports[0]! }], tls: 'off' })),
    });
    const ids = created.created.map((r) => r.id);
    await Promise.all(nodes.map((n) => waitApplied(api, n, 1, 30_000)));
    const first = UpstreamBank.answer(bank.ports[0]!, DOMAIN);
    await Promise.all(targets.map((t) => waitUntil(`${t.ip} serves the group`, async () => (await t.tryGet(DOMAIN))?.body === first, 15_000, 20)));

    const loadsOf = async () => (await Promise.all(nodes.map((n) => n.local.status()))).reduce((a, s) => a + s.loadCount, 0);
    const loads0 = await loadsOf();
    const syncs0 = c.hub.syncsSent;
    // CPU seconds of the agents, their Caddies and this process (controller + pollers) during the group changes.
    const cpuOf = (pids: number[]) => pids.reduce((a, pid) => {
      try {
        return a + sampleProc(pid, 0).cpuSeconds;
      } catch {
        return a;
      }
    }, 0);
    const agentPids = nodes.map((n) => n.proc.pid);
    const caddyPids = nodes.map((n) => n.caddyPid).filter((p): p is number => p !== null);
    const cpu0 = { agents: cpuOf(agentPids), caddies: cpuOf(caddyPids), bench: process.cpuUsage() };
    const tGroup0 = performance.now();

    // ---- group changes: one batch, all copies
    const allServed: number[] = [];
    const firstServed: number[] = [];
    const perNode: number[] = [];
    const apiMs: number[] = [];
    let timeouts = 0;
    let groupPort = bank.ports[0]!;
    for (let k = 0; k < warmup + repeats; k++) {
      const port = alt[k % alt.length]!;
      groupPort = port;
      const want = UpstreamBank.answer(port, DOMAIN);
      const t0 = performance.now();
      await api.post('/routes/batch', { update: ids.map((id) => ({ id, patch: { upstreams: [{ host: '127.0.0.1', port }] } })) });
      const a = performance.now() - t0;
      const res = await Promise.all(targets.map((t) => pollServed(t, DOMAIN, (r) => r.status === 200 && r.body === want, t0, { intervalMs: 2, timeoutMs: 30_000 })));
      const times = res.map((r) => r.ms);
      const missing = times.filter((t) => Number.isNaN(t)).length;
      if (missing) {
        timeouts += missing;
        process.stderr.write(`fan-out: change ${k}: ${missing} node(s) not serving the new upstream within 30 s\n`);
      }
      if (k >= warmup) {
        apiMs.push(a);
        const ok = times.filter((t) => Number.isFinite(t));
        perNode.push(...ok);
        allServed.push(missing ? NaN : Math.max(...ok));
        firstServed.push(Math.min(...ok));
      }
      await sleep(200);
    }
    const groupWallS = (performance.now() - tGroup0) / 1000;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const cpu1 = { agents: cpuOf(agentPids) - cpu0.agents, caddies: cpuOf(caddyPids) - cpu0.caddies, bench: (benchCpu.user + benchCpu.system) / 1e6 };
    const loads1 = await loadsOf();
    const syncs1 = c.hub.syncsSent;

    // ---- reference: one copy changed (single PATCH, single node) in the same fleet
    const singleMs: number[] = [];
    const current = nodes.map(() => groupPort);
    for (let k = 0; k < singles; k++) {
      const i = k % nodes.length;
      const next = alt[(k + 1) % alt.length]!;
      const port = next !== current[i] ? next : alt[(k + 2) % alt.length]!;
      current[i] = port;
      const want = UpstreamBank.answer(port, DOMAIN);
      const t0 = performance.now();
      await api.patch(`/routes/${ids[i]!}`, { upstreams: [{ host: '127.0.0.1', port }] });
      const r = await pollServed(targets[i]!, DOMAIN, (x) => x.status === 200 && x.body === want, t0, { intervalMs: 2, timeoutMs: 20_000 });
      if (Number.isFinite(r.ms)) singleMs.push(r.ms);
      else timeouts++;
      await sleep(100);
    }

    const all = summarize(allServed.filter((v) => Number.isFinite(v)));
    const firstS = summarize(firstServed);
    const nodeS = summarize(perNode);
    const apiS = summarize(apiMs);
    const single = summarize(singleMs);
    const c2s = ctx.results.get('change-to-served');

    printKeyValues('fan-out: set-up', [
      [`start ${nodeCount} agents (+ their Caddies) → all online`, ms(startMs)],
      ['route group', `${DOMAIN} on ${nodeCount} nodes, 1 route per node`],
    ]);
    printTable(
      `fan-out: ${repeats} group changes (after ${warmup} warm-up), each ONE POST /routes/batch updating ${nodeCount} copies`,
      ['measure', 'n', 'p50', 'p90', 'max', 'min'],
      [
        [`batch → all ${nodeCount} nodes served`, all.n, ms(all.p50), ms(all.p90), ms(all.max), ms(all.min)],
        ['batch → first node served', firstS.n, ms(firstS.p50), ms(firstS.p90), ms(firstS.max), ms(firstS.min)],
        ['batch → each node served', nodeS.n, ms(nodeS.p50), ms(nodeS.p90), ms(nodeS.max), ms(nodeS.min)],
        ['  of which batch API answered', apiS.n, ms(apiS.p50), ms(apiS.p90), ms(apiS.max), ms(apiS.min)],
        ['single copy (1 PATCH, 1 node), same fleet', single.n, ms(single.p50), ms(single.p90), ms(single.max), ms(single.min)],
      ],
    );
    const changes = warmup + repeats;
    const perChange = (v: number) => `${((v / changes) * 1000).toFixed(0)} ms`;
    const cpuTotal = cpu1.agents + cpu1.caddies + cpu1.bench;
    printKeyValues(`fan-out: CPU spent per group change (${changes} changes in ${secs(groupWallS, 1)}, ${os.cpus().length} cores)`, [
      [`${nodeCount} agent processes`, perChange(cpu1.agents), 'parse sync, render, /load, applied.json, ack'],
      [`${nodeCount} Caddy processes`, perChange(cpu1.caddies), 'config load, serving the polls'],
      ['bench process', perChange(cpu1.bench), 'controller (in process) and the 2 ms pollers'],
      ['total / cores = CPU-bound floor', ms((cpuTotal / changes / os.cpus().length) * 1000), 'on this machine, pollers included; all-served p50 is ' + ratio(all.p50, (cpuTotal / changes / os.cpus().length) * 1000) + ' of it'],
    ]);
    printKeyValues('fan-out: ratios', [
      ['all-served p50 / single-copy p50 (same fleet)', ratio(all.p50, single.p50), 'ideal 1.00×: nodes apply in parallel'],
      ['all-served p50 / change-to-served p50 (scenario 1)', c2s ? ratio(all.p50, c2s.p50!) : 'n/a (scenario 1 not run)', c2s ? `scenario 1: ${ms(c2s.p50!)} on a 1,000-route node` : ''],
      ['all-served max / single-copy p50', ratio(all.max, single.p50), ''],
      ['syncs pushed per group change', ((syncs1 - syncs0) / changes).toFixed(2), `ideal ${nodeCount} (one per node)`],
      ['/load calls per group change (all nodes)', ((loads1 - loads0) / changes).toFixed(2), `ideal ${nodeCount}`],
      ['node-changes not served within the limit', int(timeouts), ''],
    ]);
    return {
      metrics: { p50: all.p50, max: all.max, singleP50: single.p50, ratioSingle: all.p50 / single.p50, ratioC2s: c2s ? all.p50 / c2s.p50! : NaN, timeouts },
      summary: [
        `fan-out (${nodeCount} nodes, one batch): all served p50 ${ms(all.p50)}, max ${ms(all.max)}; ${ratio(all.p50, single.p50)} a single-copy change in the same fleet (${ms(single.p50)})` +
          (c2s ? `, ${ratio(all.p50, c2s.p50!)} scenario 1's p50` : ''),
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const fanOut: Scenario = { name: 'fan-out', title: '5. fan-out (20 real nodes, one batch per change; --quick: 5)', run };
