/**
 * fanout-sim: the controller's cost of pushing one fleet-wide change to many nodes. A controller child process
 * (SQLite, then PostgreSQL) with 1,000 simulated agents (protocol only, they ack every sync at once), one route
 * per node; one change = ONE `POST /routes/batch` updating all 1,000 routes. Timed from the start of the API
 * call until the last agent received its sync, divided by the number of nodes: the per-node fan-out cost.
 */
import { performance } from 'node:perf_hooks';
import type { Route } from '@caddyfleet/protocol';
import { recordFigure } from '../lib/figures';
import { Cleanup } from '../lib/fleet';
import { sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { scenarioPostgres, startSimFleet, type Store } from '../lib/sim-fleet';
import { ms, secs, summarize } from '../lib/stats';
import { printKeyValues, printTable } from '../lib/table';

async function runStore(ctx: ScenarioContext, store: Store): Promise<{ perNode: number; line: string }> {
  const count = ctx.quick ? 200 : 1000;
  const repeats = ctx.quick ? 3 : 5;
  const warmup = 1;
  const cleanup = new Cleanup();
  try {
    const databaseUrl = store === 'postgres' ? await scenarioPostgres(cleanup) : undefined;
    const fleet = await startSimFleet(cleanup, { store, count, heartbeatSeconds: 10, name: `fanout-${store}`, ...(databaseUrl ? { databaseUrl } : {}) });
    const live = fleet.sims.filter((s) => s.welcomed);
    const { api } = fleet;
    const revs = () => new Map(live.map((s) => [s, s.appliedRevision]));
    let before = revs();
    const created = await api.post<{ created: Route[] }>('/routes/batch', {
      create: live.map((s) => ({ kind: 'proxy', nodeId: s.nodeId, domains: ['group.fan.test'], upstreams: [{ host: '127.0.0.1', port: 9 }], tls: 'off' })),
    });
    const ids = created.created.map((r) => r.id);
    await waitUntil('route group delivered', () => live.every((s) => s.appliedRevision > before.get(s)!), 60_000, 20);
    await sleep(1000);

    const rows: { apiMs: number; lastMs: number; p50Ms: number }[] = [];
    for (let k = 0; k < warmup + repeats; k++) {
      before = revs();
      const t0 = performance.now();
      await api.post('/routes/batch', { update: ids.map((id) => ({ id, patch: { upstreams: [{ host: '127.0.0.1', port: 1000 + k }] } })) });
      const apiMs = performance.now() - t0;
      await waitUntil('fleet-wide change delivered', () => live.every((s) => s.appliedRevision > before.get(s)!), 60_000, 5);
      const receipts = live.map((s) => s.lastSyncAt - t0);
      if (k >= warmup) rows.push({ apiMs, lastMs: Math.max(...receipts), p50Ms: summarize(receipts).p50 });
      await sleep(1000);
    }
    const last = summarize(rows.map((r) => r.lastMs));
    const apiS = summarize(rows.map((r) => r.apiMs));
    const p50s = summarize(rows.map((r) => r.p50Ms));
    const perNode = last.p50 / live.length;
    printKeyValues(`fanout-sim (${store}): set-up`, [
      ['simulated agents connected', `${live.length}/${count}`, `in ${secs(fleet.connectMs / 1000, 1)}, ${fleet.connectFailures} failures`],
    ]);
    printTable(`fanout-sim (${store}): ${repeats} fleet-wide changes (after ${warmup} warm-up), ONE batch updating ${live.length} routes on ${live.length} nodes`, ['measure', 'n', 'p50', 'max', 'min'], [
      ['batch API call', apiS.n, ms(apiS.p50), ms(apiS.max), ms(apiS.min)],
      ['API start → half the agents received', p50s.n, ms(p50s.p50), ms(p50s.max), ms(p50s.min)],
      ['API start → last agent received', last.n, ms(last.p50), ms(last.max), ms(last.min)],
    ]);
    recordFigure({
      name: `controller per-node fan-out cost (${live.length} simulated agents, ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
      value: perNode,
      unit: 'ms/node',
      goal: { op: '≤', value: 0.3 },
      detail: `API start → last of ${live.length} agents received p50 ${ms(last.p50)} (batch API ${ms(apiS.p50)}), median of ${repeats}`,
    });
    return { perNode, line: `fanout-sim ${store}: ${perNode.toFixed(3)} ms/node (last received ${ms(last.p50)}, API ${ms(apiS.p50)})` };
  } finally {
    await cleanup.run();
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const sqlite = await runStore(ctx, 'sqlite');
  const postgres = await runStore(ctx, 'postgres');
  return { metrics: { sqlitePerNode: sqlite.perNode, postgresPerNode: postgres.perNode }, summary: [sqlite.line, postgres.line] };
}

export const fanoutSim: Scenario = { name: 'fanout-sim', title: '6. fanout-sim (1,000 simulated agents, one batch per change, SQLite and PostgreSQL; --quick: 200)', run };
