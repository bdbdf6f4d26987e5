/**
 * burst: 100 API edits in a row (sequential awaits) to the routes of one real node holding 1,000 routes, at
 * several pacings: back to back, and with a pause between edits. Counted per pacing: the syncs the controller
 * pushed (hub.syncsSent) and the `/load` calls the agent made (loadCount from its local API); the ideal is
 * far fewer loads than edits, with every edit served in the end.
 */
import { performance } from 'node:perf_hooks';
import { recordFigure } from '../lib/figures';
import { Cleanup, setupLoadedNode, UpstreamBank, type LoadedNode } from '../lib/fleet';
import { pollServed, sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { int, ms, ratio, summarize } from '../lib/stats';
import { printTable } from '../lib/table';

interface Round {
  pacing: number;
  burstMs: number;
  callP50: number;
  syncs: number;
  loads: number;
  lastServedMs: number;
  correct: number;
}

async function round(setup: LoadedNode, edits: number, pacing: number, offset: number): Promise<Round> {
  const { ctl, node, target, routes, bank } = setup;
  const api = ctl.api;
  const alt = bank.ports.slice(1);
  const portOf = (i: number) => alt[(i + offset) % alt.length]!;
  const before = await node.local.status();
  const syncs0 = ctl.c.hub.syncsSent;
  const callMs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < edits; i++) {
    const t = performance.now();
    await api.patch(`/routes/${routes[i]!.id}`, { upstreams: [{ host: '127.0.0.1', port: portOf(i) }] });
    callMs.push(performance.now() - t);
    if (pacing > 0 && i < edits - 1) await sleep(pacing);
  }
  const tEnd = performance.now();
  const lastDomain = routes[edits - 1]!.domains[0]!;
  const lastWant = UpstreamBank.answer(portOf(edits - 1), lastDomain);
  const last = await pollServed(target, lastDomain, (r) => r.status === 200 && r.body === lastWant, tEnd, { intervalMs: 2, timeoutMs: 30_000 });
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
  let correct = 0;
  for (let i = 0; i < edits; i++) {
    const d = routes[i]!.domains[0]!;
    const r = await target.tryGet(d);
    if (r?.status === 200 && r.body === UpstreamBank.answer(portOf(i), d)) correct++;
  }
  return {
    pacing,
    burstMs: tEnd - t0,
    callP50: summarize(callMs).p50,
    syncs: ctl.c.hub.syncsSent - syncs0,
    loads: after.loadCount - before.loadCount,
    lastServedMs: last.ms,
    correct,
  };
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const routeCount = ctx.quick ? 200 : 1000;
  const edits = ctx.quick ? 30 : 100;
  const pacings = ctx.quick ? [0, 10] : [0, 10, 30, 60];
  const cleanup = new Cleanup();
  try {
    const setup = await setupLoadedNode(cleanup, { name: 'burst', ip: '127.0.0.4', routeCount, upstreams: 8 });
    await sleep(500);
    const rounds: Round[] = [];
    for (const [i, pacing] of pacings.entries()) {
      rounds.push(await round(setup, edits, pacing, i + 1));
      await sleep(500);
    }
    printTable(`burst: ${edits} sequential PATCHes to one node with ${routeCount} routes, per pacing`, [
      'pause between edits', 'burst took', 'PATCH p50', 'syncs pushed', '/load calls', 'loads/edits', 'last edit answered → served', 'served correctly',
    ], rounds.map((r) => [ms(r.pacing), ms(r.burstMs), ms(r.callP50), int(r.syncs), int(r.loads), ratio(r.loads, edits), ms(r.lastServedMs), `${r.correct}/${edits}`]));
    const worst = rounds.reduce((a, b) => (b.loads > a.loads ? b : a));
    recordFigure({
      name: `/load calls for ${edits} sequential API edits to one node (${routeCount.toLocaleString('en')} routes), worst pacing`,
      value: worst.loads,
      unit: 'loads',
      goal: { op: '≤', value: 5 },
      detail: rounds.map((r) => `${r.pacing} ms apart: ${r.loads} loads in ${ms(r.burstMs)}`).join('; ') + `; ${rounds.every((r) => r.correct === edits) ? 'all edits served' : 'SOME EDITS NOT SERVED'}`,
    });
    return {
      metrics: { edits, worstLoads: worst.loads, correct: Math.min(...rounds.map((r) => r.correct)) },
      summary: rounds.map((r) => `burst (${edits} edits, ${r.pacing} ms apart, ${ms(r.burstMs)}): ${r.syncs} syncs, ${r.loads} /load calls; last edit served ${ms(r.lastServedMs)} after; ${r.correct}/${edits} correct`),
    };
  } finally {
    await cleanup.run();
  }
}

export const burst: Scenario = { name: 'burst', title: '4. burst (100 edits in a row to one node with 1,000 routes, at 0/10/30/60 ms pacing; --quick: 30 edits, 200 routes)', run };
