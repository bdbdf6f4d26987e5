/**
 * scale: 10,000 simulated agents (protocol only, no Caddy) connected to a controller child process, heartbeat
 * 10 s (status + ping per agent), nothing else happening: the controller's CPU and memory for keeping a large
 * fleet connected. SQLite, then PostgreSQL. Measured from /proc/<pid> of the controller.
 */
import { performance } from 'node:perf_hooks';
import { recordFigure } from '../lib/figures';
import { Cleanup } from '../lib/fleet';
import { sleep } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { scenarioPostgres, startSimFleet, type Store } from '../lib/sim-fleet';
import { int, mb, pct, secs } from '../lib/stats';
import { printKeyValues } from '../lib/table';

const HEARTBEAT_SECONDS = 10;

async function runStore(ctx: ScenarioContext, store: Store): Promise<{ cpuPct: number; rssPeak: number; line: string }> {
  const count = ctx.quick ? 1000 : 10_000;
  const windowS = ctx.quick ? 10 : 30;
  const cleanup = new Cleanup();
  try {
    const databaseUrl = store === 'postgres' ? await scenarioPostgres(cleanup) : undefined;
    const fleet = await startSimFleet(cleanup, { store, count, heartbeatSeconds: HEARTBEAT_SECONDS, name: `scale-${store}`, ...(databaseUrl ? { databaseUrl } : {}) });
    const atConnected = fleet.sample();
    // Let the connect burst (hello, first status, local-routes) settle into the heartbeat rhythm.
    await sleep(5000);
    const w0 = fleet.sample();
    const frames0 = fleet.sims.reduce((a, s) => a + s.counters.framesSent, 0);
    const bench0 = process.cpuUsage();
    const tEnd = performance.now() + windowS * 1000;
    while (performance.now() < tEnd) await sleep(Math.min(250, tEnd - performance.now()));
    const w1 = fleet.sample();
    const benchCpu = process.cpuUsage(bench0);
    const frames = fleet.sims.reduce((a, s) => a + s.counters.framesSent, 0) - frames0;
    const wall = (w1.at - w0.at) / 1000;
    const cpu = w1.cpuSeconds - w0.cpuSeconds;
    const cpuPct = (cpu / wall) * 100;
    const nodes = await fleet.api.get<{ status: string }[]>(`/nodes?siteId=${fleet.siteId}`);
    const online = nodes.filter((n) => n.status === 'online').length;
    const end = fleet.sample();
    const rssPeak = Math.max(...fleet.samples.map((s) => s.rssBytes), end.hwmBytes);
    const disconnects = fleet.sims.filter((s) => s.closedWith !== null).length;
    printKeyValues(`scale (${store}): controller child (pid ${fleet.proc.pid}) with ${count} simulated agents, heartbeat ${HEARTBEAT_SECONDS} s`, [
      ['connect', `${count - fleet.connectFailures}/${count} in ${secs(fleet.connectMs / 1000, 1)}`, `controller RSS after connect ${mb(atConnected.rssBytes)}`],
      [`steady window`, `${secs(wall, 1)}`, `${frames} frames from agents (${(frames / wall).toFixed(0)}/s)`],
      ['controller CPU in the window', `${secs(cpu)} (${pct(cpuPct)} of one core)`, ''],
      ['controller RSS end / peak', `${mb(end.rssBytes)} / ${mb(rssPeak)}`, 'peak = max(VmHWM, samples every 250 ms)'],
      ['write syscalls in the window', `${int(w1.syscw - w0.syscw)} (${((w1.syscw - w0.syscw) / wall).toFixed(0)}/s)`, `${mb(w1.wchar - w0.wchar)} written`],
      ['nodes online (GET /nodes)', `${online}/${count}`, `${disconnects} unexpected disconnects`],
      ['bench process CPU in the window (the simulated agents)', secs((benchCpu.user + benchCpu.system) / 1e6), ''],
    ]);
    const label = store === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    recordFigure({
      name: `${count.toLocaleString('en')} connected agents, heartbeats only: controller CPU (${label})`,
      value: cpuPct,
      unit: '%',
      goal: { op: '≤', value: 10 },
      detail: `${secs(cpu)} CPU in ${secs(wall, 1)}, ${(frames / wall).toFixed(0)} frames/s, ${online}/${count} online`,
    });
    recordFigure({
      name: `${count.toLocaleString('en')} connected agents: controller peak RSS (${label})`,
      value: rssPeak / 2 ** 20,
      unit: 'MB',
      goal: { op: '<', value: 1024 },
      detail: `end ${mb(end.rssBytes)}`,
    });
    return { cpuPct, rssPeak, line: `scale ${store} (${count} agents): CPU ${pct(cpuPct)} of a core, RSS peak ${mb(rssPeak)}, ${online}/${count} online` };
  } finally {
    await cleanup.run();
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const sqlite = await runStore(ctx, 'sqlite');
  const postgres = await runStore(ctx, 'postgres');
  return {
    metrics: { sqliteCpuPct: sqlite.cpuPct, postgresCpuPct: postgres.cpuPct, sqliteRssPeak: sqlite.rssPeak, postgresRssPeak: postgres.rssPeak },
    summary: [sqlite.line, postgres.line],
  };
}

export const scale: Scenario = { name: 'scale', title: '7. scale (10,000 simulated agents, heartbeats only, SQLite and PostgreSQL; --quick: 1,000)', run };
