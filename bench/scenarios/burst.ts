/**
 * burst: 100 API edits in a row (sequential awaits, as fast as the client goes) to the routes of one real node
 * holding 1,000 routes. Counted: the syncs the controller pushed (hub.syncsSent) and the `/load` calls the agent
 * made (loadCount from its local API); the ideal is far fewer loads than edits, with the last edit served.
 */
import { performance } from 'node:perf_hooks';
import { Cleanup, setupLoadedNode, UpstreamBank } from '../lib/fleet';
import { pollServed, sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { int, ms, ratio, summarize } from '../lib/stats';
import { printKeyValues, printTable } from '../lib/table';

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const routeCount = ctx.quick ? 200 : 1000;
  const edits = ctx.quick ? 30 : 100;
  const cleanup = new Cleanup();
  try {
    const setup = await setupLoadedNode(cleanup, { name: 'burst', ip: '127.0.0.4', routeCount, upstreams: 8 });
    const { ctl, node, target, routes, bank } = setup;
    const api = ctl.api;
    const alt = bank.ports.slice(1);
    const portOf = (i: number) => alt[i % alt.length]!;
    await sleep(500);

    const before = await node.local.status();
    const syncs0 = ctl.c.hub.syncsSent;
    const rev0 = (await api.get(`/nodes/${node.nodeId}`)).desiredRevision as number;

    // ---- the burst
    const callMs: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < edits; i++) {
      const t = performance.now();
      await api.patch(`/routes/${routes[i]!.id}`, { upstreams: [{ host: '127.0.0.1', port: portOf(i) }] });
      callMs.push(performance.now() - t);
    }
    const tEnd = performance.now();
    const burstMs = tEnd - t0;

    // ---- until the last edit is served, then until the agent is quiet
    const lastDomain = routes[edits - 1]!.domains[0]!;
    const lastWant = UpstreamBank.answer(portOf(edits - 1), lastDomain);
    const last = await pollServed(target, lastDomain, (r) => r.status === 200 && r.body === lastWant, tEnd, { intervalMs: 2, timeoutMs: 30_000 });
    const fromFirst = Number.isFinite(last.ms) ? last.ms + burstMs : NaN;
    const desired = (await api.get(`/nodes/${node.nodeId}`)).desiredRevision as number;
    let prevLoads = -1;
    let stableSince = Date.now();
    await waitUntil(
      'agent quiet after the burst',
      async () => {
        const s = await node.local.status();
        if (s.loadCount !== prevLoads) {
          prevLoads = s.loadCount;
          stableSince = Date.now();
        }
        return s.appliedRevision === desired && Date.now() - stableSince >= 1500;
      },
      60_000,
      100,
    );
    const after = await node.local.status();
    const syncs = ctl.c.hub.syncsSent - syncs0;
    const loads = after.loadCount - before.loadCount;

    // ---- every edit must be served in the end
    let correct = 0;
    for (let i = 0; i < edits; i++) {
      const d = routes[i]!.domains[0]!;
      const r = await target.tryGet(d);
      if (r?.status === 200 && r.body === UpstreamBank.answer(portOf(i), d)) correct++;
    }

    const calls = summarize(callMs);
    const bareP50 = ctx.results.get('change-to-served')?.bareP50;
    printTable(`burst: ${edits} sequential PATCHes to one node with ${routeCount} routes`, ['measure', 'n', 'p50', 'p99', 'max'], [
      ['API call (PATCH) latency', calls.n, ms(calls.p50), ms(calls.p99), ms(calls.max)],
    ]);
    printKeyValues('burst: coalescing', [
      ['edits sent', int(edits), `in ${ms(burstMs)} (${(edits / (burstMs / 1000)).toFixed(0)} edits/s)`],
      ['node revision moved by', int(desired - rev0), 'one per edit'],
      ['syncs pushed by the controller', int(syncs), `hub.syncsSent; ${ratio(syncs, edits)} of edits`],
      ['/load calls by the agent', int(loads), `status().loadCount; ${(loads > 0 ? edits / loads : NaN).toFixed(1)} edits per load`],
      ['loads / edits', ratio(loads, edits), 'lower is better; 1.00× = no coalescing'],
      ['last edit answered → served', ms(last.ms), ''],
      ['first edit sent → last edit served', ms(fromFirst), bareP50 ? `without coalescing at least ${edits} × bare load p50 = ${ms(edits * bareP50)}` : ''],
      ['edits served correctly at the end', `${correct}/${edits}`, ''],
    ]);
    return {
      metrics: { edits, loads, syncs, loadsPerEdit: loads / edits, lastServedMs: last.ms, correct },
      summary: [
        `burst (${edits} edits in ${ms(burstMs)}): ${syncs} syncs pushed, ${loads} /load calls → loads/edits ${ratio(loads, edits)}; last edit served ${ms(last.ms)} after the burst; ${correct}/${edits} correct`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const burst: Scenario = { name: 'burst', title: '3. burst (100 edits in a row to one node with 1,000 routes; --quick: 30 edits, 200 routes)', run };
