/**
 * scale: 1,000 simulated agents (protocol only, no Caddy) against a controller running as a separate child
 * process (`node bin/caddyfleet.mjs server`), heartbeat 10 s. Each agent is enrolled through the API with its
 * own enrollment token, connects a WebSocket, says hello, acks syncs and sends status + ping every heartbeat.
 * Measured from /proc/<pid> of the controller: RSS (start/peak/end), CPU seconds and % of one core per phase,
 * and write activity; at the end, how many nodes the API shows online. Half-way through the steady window one
 * fleet-wide change (one batch updating the route on all 1,000 nodes) shows how fast a sync reaches everyone.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Route } from '@caddyfleet/protocol';
import { stopPid, trackPid, untrackPid } from '../lib/cleanup';
import { ADMIN_PASSWORD, benchDir, childEnv, CLI, Cleanup, createSite, freePort, REPO } from '../lib/fleet';
import { ApiClient, sleep, waitUntil } from '../lib/http';
import { sampleProc, type ProcSample } from '../lib/procstat';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { SimAgent } from '../lib/sim-agent';
import { int, mb, ms, pct, secs, summarize } from '../lib/stats';
import { printKeyValues, printTable } from '../lib/table';
import { spawnLogged } from '../../tests/helpers/processes';

const HEARTBEAT_SECONDS = 10;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const count = ctx.quick ? 100 : 1000;
  const windowS = ctx.quick ? 15 : 60;
  const changeAtS = ctx.quick ? 7 : 25;
  const cleanup = new Cleanup();
  const sims: SimAgent[] = [];
  cleanup.add('close simulated agents', () => sims.forEach((s) => s.close()));
  try {
    const dir = await benchDir(cleanup, 'scale');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnLogged(
      process.execPath,
      [CLI, 'server', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir.path, 'data'), '--log-level', 'warn'],
      { cwd: REPO, env: childEnv({ CADDYFLEET_ADMIN_PASSWORD: ADMIN_PASSWORD, CADDYFLEET_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS) }), name: 'controller' },
    );
    trackPid(proc.pid, 'controller');
    cleanup.add('stop the controller child', async () => {
      await proc.stop(10_000);
      untrackPid(proc.pid);
      await stopPid(proc.pid, 1000); // no-op unless it somehow survived
    });
    const tSpawn = performance.now();
    await proc.waitForOutput(/listening on/, 30_000);
    const startupMs = performance.now() - tSpawn;
    const pid = proc.pid;

    // ---- resource sampling every 250 ms for the whole scenario
    const samples: ProcSample[] = [];
    const sample = () => {
      try {
        const s = sampleProc(pid, performance.now());
        samples.push(s);
        return s;
      } catch {
        return samples[samples.length - 1]!;
      }
    };
    const sampler = setInterval(sample, 250);
    cleanup.add('stop sampling', () => clearInterval(sampler));
    await sleep(500);
    const atStart = sample();

    // ---- enroll through the API, one token per agent
    const api = await ApiClient.login(url, ADMIN_PASSWORD);
    const siteId = await createSite(api, 'scale');
    const tEnroll = performance.now();
    const creds = await pool(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
      const { token } = await api.post(`/sites/${siteId}/enrollment-tokens`, {});
      const res = await fetch(`${url}/api/v1/agent/enroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, name: `sim-${i}`, hostname: `sim-${i}.bench.test` }),
        signal: AbortSignal.timeout(15_000),
      });
      if (!res.ok) throw new Error(`enroll sim-${i}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      return (await res.json()) as { nodeId: string; agentKey: string };
    });
    const enrollMs = performance.now() - tEnroll;
    const afterEnroll = sample();

    // ---- one route per node (the same domain everywhere), so every agent gets a sync to ack on connect
    const created = await api.post<{ created: Route[] }>('/routes/batch', {
      create: creds.map((c) => ({ kind: 'proxy', nodeId: c.nodeId, domains: ['fleet.bench.test'], upstreams: [{ host: '127.0.0.1', port: 9 }], tls: 'off' })),
    });
    const routeIds = created.created.map((r) => r.id);

    // ---- connect everyone
    const wsUrl = `ws://127.0.0.1:${port}/api/v1/agent/connect`;
    const tConnect = performance.now();
    for (const c of creds) sims.push(new SimAgent(c.nodeId, c.agentKey));
    let connectFailures = 0;
    await pool(sims, 50, async (s) => {
      try {
        await s.connect(wsUrl);
      } catch (err) {
        connectFailures++;
        if (connectFailures <= 3) process.stderr.write(`scale: ${(err as Error).message}\n`);
      }
    });
    const connectMs = performance.now() - tConnect;
    await waitUntil('initial syncs acked', () => sims.every((s) => !s.welcomed || s.appliedRevision >= 1), 30_000, 100).catch(() => {});
    const syncedMs = performance.now() - tConnect;
    const afterConnect = sample();

    // ---- steady window, with one fleet-wide change half-way
    const tW0 = performance.now();
    const w0 = sample();
    const counters0 = sims.reduce((a, s) => a + s.counters.framesSent, 0);
    const benchCpu0 = process.cpuUsage();
    let change: { apiMs: number; receipt: number[]; missing: number } | null = null;
    const windowEnd = tW0 + windowS * 1000;
    while (performance.now() < tW0 + changeAtS * 1000) await sleep(Math.min(250, tW0 + changeAtS * 1000 - performance.now()));
    {
      const revs = new Map(sims.map((s) => [s, s.appliedRevision]));
      const t0 = performance.now();
      await api.post('/routes/batch', { update: routeIds.map((id) => ({ id, patch: { upstreams: [{ host: '127.0.0.1', port: 10 }] } })) });
      const apiMs = performance.now() - t0;
      const live = sims.filter((s) => s.welcomed);
      await waitUntil('fleet-wide sync delivered', () => live.every((s) => s.appliedRevision > revs.get(s)!), 30_000, 10).catch(() => {});
      const got = live.filter((s) => s.appliedRevision > revs.get(s)!);
      change = { apiMs, receipt: got.map((s) => s.lastSyncAt - t0), missing: live.length - got.length };
    }
    while (performance.now() < windowEnd) await sleep(Math.min(250, windowEnd - performance.now()));
    const w1 = sample();
    const benchCpu = process.cpuUsage(benchCpu0);
    const windowFrames = sims.reduce((a, s) => a + s.counters.framesSent, 0) - counters0;
    const actualWindowS = (w1.at - tW0) / 1000;

    // ---- what the API shows
    const nodes = await api.get<{ status: string }[]>(`/nodes?siteId=${siteId}`);
    const byStatus = new Map<string, number>();
    for (const n of nodes) byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1);
    const end = sample();
    clearInterval(sampler);
    const disconnects = sims.filter((s) => s.closedWith !== null).length;
    const pongs = sims.reduce((a, s) => a + s.counters.pongs, 0);
    const pings = sims.reduce((a, s) => a + s.counters.pingsSent, 0);
    const peakSampled = Math.max(...samples.map((s) => s.rssBytes));

    const phase = (name: string, a: ProcSample, b: ProcSample, what: string): (string | number)[] => {
      const wall = (b.at - a.at) / 1000;
      const cpu = b.cpuSeconds - a.cpuSeconds;
      return [name, secs(wall, 1), secs(cpu), pct((cpu / wall) * 100), mb(b.rssBytes), what];
    };
    printTable(`scale: controller child (pid ${pid}) with ${count} simulated agents, heartbeat ${HEARTBEAT_SECONDS} s`, ['phase', 'wall', 'CPU', '% of one core', 'RSS at end', 'note'], [
      ['start-up (spawn → listening)', secs(startupMs / 1000, 1), secs(atStart.cpuSeconds), '', mb(atStart.rssBytes), 'includes tsx loading the TypeScript'],
      phase('enroll', atStart, afterEnroll, `${count} × (POST enrollment-tokens + POST agent/enroll), 8 in flight; ${ms(enrollMs)}`),
      phase('connect', afterEnroll, afterConnect, `incl. one ${count}-route batch; ${count} WebSockets (50 in flight) in ${ms(connectMs)}, first syncs acked after ${ms(syncedMs)}`),
      phase(`steady window (${windowS} s)`, w0, w1, `${windowFrames} frames from agents (${(windowFrames / actualWindowS).toFixed(0)}/s), one fleet-wide change`),
    ]);
    const receipt = summarize(change?.receipt ?? []);
    const cpuWindow = w1.cpuSeconds - w0.cpuSeconds;
    printKeyValues('scale: results', [
      ['controller RSS start / peak / end', `${mb(atStart.rssBytes)} / ${mb(Math.max(peakSampled, end.hwmBytes))} / ${mb(end.rssBytes)}`, 'peak = VmHWM (sampled max every 250 ms: ' + mb(peakSampled) + ')'],
      ['controller CPU in the steady window', `${secs(cpuWindow)} (${pct((cpuWindow / actualWindowS) * 100)} of one core)`, `over ${secs(actualWindowS, 1)}`],
      ['controller CPU total (start-up to end)', secs(end.cpuSeconds), ''],
      ['nodes online at the end (GET /nodes)', `${byStatus.get('online') ?? 0}/${count}`, [...byStatus].map(([k, v]) => `${k} ${v}`).join(', ')],
      ['connect failures / unexpected disconnects', `${connectFailures} / ${disconnects}`, ''],
      ['pings answered with pong', `${pongs}/${pings}`, ''],
      ['fleet-wide change: batch API call', ms(change?.apiMs ?? NaN), `one POST /routes/batch updating ${routeIds.length} routes`],
      ['fleet-wide change: sync received p50 / p99 / max', `${ms(receipt.p50)} / ${ms(receipt.p99)} / ${ms(receipt.max)}`, `${receipt.n} agents got it, ${change?.missing ?? 'n/a'} did not within 30 s`],
      ['DB node-row flushes', 'not observable', 'NodeStatusWriter.flushCount is private to the hub and not in /metrics'],
      ['  proxy: write syscalls in the window (DB and sockets)', `${int(w1.syscw - w0.syscw)} (${((w1.syscw - w0.syscw) / actualWindowS).toFixed(0)}/s)`, `/proc/${pid}/io syscw; ${mb(w1.wchar - w0.wchar)} written (wchar)`],
      [`bench process CPU in the window (the ${count} simulated agents)`, secs((benchCpu.user + benchCpu.system) / 1e6), ''],
    ]);
    return {
      metrics: {
        rssStart: atStart.rssBytes,
        rssPeak: Math.max(peakSampled, end.hwmBytes),
        rssEnd: end.rssBytes,
        cpuWindow,
        cpuPct: (cpuWindow / actualWindowS) * 100,
        online: byStatus.get('online') ?? 0,
      },
      summary: [
        `scale (${count} simulated agents, ${windowS} s): controller RSS ${mb(atStart.rssBytes)} → peak ${mb(Math.max(peakSampled, end.hwmBytes))} → end ${mb(end.rssBytes)}; ` +
          `CPU ${secs(cpuWindow)} in the window (${pct((cpuWindow / actualWindowS) * 100)} of one core); ${byStatus.get('online') ?? 0}/${count} online; fleet-wide sync p50 ${ms(receipt.p50)}, max ${ms(receipt.max)}`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const scale: Scenario = { name: 'scale', title: '4. scale (1,000 simulated agents for 60 s, controller as a child process; --quick: 100 for 15 s)', run };
