/**
 * upstream-health: what per-upstream health reporting costs, on nodes with 100 / 1,000 / 2,000 proxy upstreams
 * (--quick: 100 / 500). Two real agents, each with its own Caddy (started by the bench, admin on loopback TCP),
 * hold the same routes, one upstream each: 4 local HTTP servers answering the health path, the rest closed
 * 127.0.0.1 ports. The `checked` node's routes have active health checks (every 5 s), the `plain` node's none.
 * Measured per size:
 *   - the size of Caddy's `GET /metrics` and `GET /reverse_proxy/upstreams`, and of the `upstream-health` frame;
 *   - the agent's poll round (its own UpstreamHealthMonitor.poll(), run in the bench against the same Caddy) and
 *     its steps; both agents' and Caddys' CPU over the same window;
 *   - the controller: a simulated agent on a third node with the same routes replays the real agent's report:
 *     frame sent → stored in the node's row, and `GET /routes` of that node with the report vs without one.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { agentFrameEnvelopeSchema, type Route, type RouteCreateInput, type UpstreamReport } from '@caddyfleet/protocol';
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
  type AgentNode,
  type BareCaddy,
  type BenchController,
} from '../lib/fleet';
import { adminBytes, timePolls, timeSteps } from '../lib/health-poll';
import { sleep, waitUntil } from '../lib/http';
import { sampleProc } from '../lib/procstat';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { SimAgent } from '../lib/sim-agent';
import { int, ms, pct, ratio, summarize } from '../lib/stats';
import { printTable } from '../lib/table';

const LIVE_UPSTREAMS = 4;
const CHECKS = { healthChecks: { active: { path: '/healthz', intervalSeconds: 5, timeoutSeconds: 2 } } };

interface RealNode {
  node: AgentNode;
  caddy: BareCaddy;
  admin: CaddyAdmin;
}

/** `count` distinct 127.0.0.1 ports that nothing listens on (bound once by the OS, then closed). */
async function closedPorts(count: number, taken: readonly number[]): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < count && i < count * 3; i++) {
    const p = await freePort('127.0.0.1');
    if (!taken.includes(p)) ports.add(p);
  }
  if (ports.size < count) throw new Error(`found only ${ports.size} of ${count} free loopback ports`);
  return [...ports];
}

async function startReal(cleanup: Cleanup, ctl: BenchController, siteId: string, dir: string, name: string, ip: string): Promise<RealNode> {
  const caddy = await startBareCaddy(cleanup, join(dir, `${name}-caddy`), await freePort());
  const token = await enrollmentToken(ctl.api, siteId);
  const node = await startAgentNode(cleanup, { controllerUrl: ctl.c.url, token, stateDir: join(dir, `${name}-agent`), ip, name, caddyAdmin: caddy.adminListen });
  await waitOnline(ctl.api, node);
  return { node, caddy, admin: new CaddyAdmin(caddy.adminListen, { timeoutMs: 30_000 }) };
}

async function startSim(cleanup: Cleanup, ctl: BenchController, siteId: string): Promise<SimAgent> {
  const token = await enrollmentToken(ctl.api, siteId);
  const res = await fetch(`${ctl.c.url}/api/v1/agent/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, name: 'replay', hostname: 'replay.bench.test' }),
  });
  if (!res.ok) throw new Error(`enroll replay: HTTP ${res.status} ${await res.text()}`);
  const creds = (await res.json()) as { nodeId: string; agentKey: string };
  const sim = new SimAgent(creds.nodeId, creds.agentKey);
  cleanup.add('close the simulated agent', () => sim.close());
  await sim.connect(ctl.c.url.replace('http', 'ws') + '/api/v1/agent/connect');
  return sim;
}

/** Resolves at the next `pong` the simulated agent receives. */
function nextPong(sim: SimAgent): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = sim.ws!;
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error('no pong within 30 s'));
    }, 30_000);
    const onMessage = (data: unknown) => {
      if (!String(data).includes('"pong"')) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
  });
}

const reportAt = async (ctl: BenchController, nodeId: string) =>
  (await ctl.c.store.db.selectFrom('nodes').select(['upstream_health', 'upstream_health_at']).where('id', '=', nodeId).executeTakeFirstOrThrow());

/**
 * GET /routes of a node, `rounds` times without its report and with it, interleaved (the row's report is taken
 * out and put back between requests, so both see the same warm caches), plus the same work in process.
 */
async function timeGets(ctl: BenchController, nodeId: string, rounds: number) {
  const row = await reportAt(ctl, nodeId);
  const set = (r: { upstream_health: string | null; upstream_health_at: string | null }) => ctl.c.store.db.updateTable('nodes').set(r).where('id', '=', nodeId).execute();
  const out = { none: { get: [] as number[], attach: [] as number[] }, report: { get: [] as number[], attach: [] as number[] } };
  for (let i = 0; i < rounds + 2; i++) {
    // Either order in turn: GET /routes of a large node is bimodal (a collection every few requests).
    for (const which of i % 2 ? (['report', 'none'] as const) : (['none', 'report'] as const)) {
      await set(which === 'none' ? { upstream_health: null, upstream_health_at: null } : row);
      let t = performance.now();
      await ctl.api.get<Route[]>(`/routes?nodeId=${nodeId}`);
      const get = performance.now() - t;
      // The same work in process, without HTTP: list, then add upstreamHealth.
      const routes = await ctl.c.services.routes.list({ nodeId });
      t = performance.now();
      await ctl.c.services.upstreamHealth.attach(routes);
      // The first two rounds warm up.
      if (i > 1) {
        out[which].get.push(get);
        out[which].attach.push(performance.now() - t);
      }
    }
  }
  await set(row);
  return out;
}

/** Sends `frames` (serialised `upstream-health` frames) one at a time: sent → handled (pong of a ping after it) → stored in the row. */
async function timeReports(ctl: BenchController, sim: SimAgent, frames: string[]): Promise<{ handled: number[]; stored: number[]; pingOnly: number[] }> {
  const handled: number[] = [];
  const stored: number[] = [];
  const pingOnly: number[] = [];
  for (const [k, text] of frames.entries()) {
    const before = (await reportAt(ctl, sim.nodeId)).upstream_health_at;
    const pong = nextPong(sim);
    const t = performance.now();
    sim.ws!.send(text);
    sim.send({ type: 'ping', t: Date.now() });
    await pong;
    handled.push(performance.now() - t);
    const deadline = Date.now() + 10_000;
    while ((await reportAt(ctl, sim.nodeId)).upstream_health_at === before) {
      if (Date.now() > deadline) {
        const row = await reportAt(ctl, sim.nodeId);
        throw new Error(
          `report ${k + 1} of ${frames.length} was not stored within 10 s (row: ${row.upstream_health?.length ?? 0} chars at ${row.upstream_health_at}; before: ${before}; replay agent ${sim.closedWith ? `closed with ${sim.closedWith}` : 'connected'})`,
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    stored.push(performance.now() - t);
    const alone = nextPong(sim);
    const p = performance.now();
    sim.send({ type: 'ping', t: Date.now() });
    await alone;
    pingOnly.push(performance.now() - p);
  }
  return { handled, stored, pingOnly };
}

const p50 = (v: number[]) => summarize(v).p50;
const p95 = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? NaN;
};
const kb = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [100, 500] : [100, 1000, 2000];
  const windowMs = ctx.quick ? 6000 : 25_000;
  const rounds = ctx.quick ? 5 : 15;
  const getRounds = ctx.quick ? 6 : 40;
  const reportCount = ctx.quick ? 3 : 8;
  const cleanup = new Cleanup();
  try {
    const dir = await benchDir(cleanup, 'uphealth');
    const bank = await UpstreamBank.start(LIVE_UPSTREAMS);
    cleanup.add('close upstreams', () => bank.close());
    const max = sizes[sizes.length - 1]!;
    const ctl = await startBenchController(cleanup, join(dir.path, 'controller'));
    const siteId = await createSite(ctl.api, 'uphealth');
    const checked = await startReal(cleanup, ctl, siteId, dir.path, 'checked', '127.0.0.61');
    const plain = await startReal(cleanup, ctl, siteId, dir.path, 'plain', '127.0.0.62');
    const sim = await startSim(cleanup, ctl, siteId);
    // Chosen once everything that listens on 127.0.0.1 (the controller, the Caddys' admin APIs) has started.
    const upstreamPorts = [...bank.ports, ...(await closedPorts(max - LIVE_UPSTREAMS, bank.ports))];

    const route = (prefix: string, i: number, withChecks: boolean): RouteCreateInput => ({
      kind: 'proxy',
      domains: [`${prefix}${i}.uphealth.test`],
      upstreams: [{ host: '127.0.0.1', port: upstreamPorts[i]! }],
      tls: 'off',
      ...(withChecks ? { options: CHECKS } : {}),
    });
    const sizeRows: (string | number)[][] = [];
    const pollRows: (string | number)[][] = [];
    const stepRows: (string | number)[][] = [];
    const cpuRows: (string | number)[][] = [];
    const ctlRows: (string | number)[][] = [];
    const metrics: Record<string, number> = {};
    const summary: string[] = [];
    let have = 0;
    for (const size of sizes) {
      const range = Array.from({ length: size - have }, (_, k) => have + k);
      await createInputs(ctl.api, checked.node.nodeId, range.map((i) => route('c', i, true)));
      await createInputs(ctl.api, plain.node.nodeId, range.map((i) => route('p', i, false)));
      await createInputs(ctl.api, sim.nodeId, range.map((i) => route('s', i, true)));
      have = size;
      await waitApplied(ctl.api, checked.node, size, 120_000);
      await waitApplied(ctl.api, plain.node, size, 120_000);
      await waitUntil('replay node acked', async () => {
        const n = await ctl.api.get(`/nodes/${sim.nodeId}`);
        return n.appliedRevision === n.desiredRevision;
      }, 60_000, 100);
      // Caddy sets its gauges when a handler starts; let its first health checks run.
      await sleep(1000);

      // ---- Caddy's answers and the agent's poll round
      const bytes = {
        upstreams: await adminBytes(checked.caddy.adminListen, '/reverse_proxy/upstreams'),
        metrics: await adminBytes(checked.caddy.adminListen, '/metrics'),
        plainMetrics: await adminBytes(plain.caddy.adminListen, '/metrics'),
      };
      const pc = await timePolls(checked.admin, rounds);
      const pp = await timePolls(plain.admin, rounds);
      const steps = await timeSteps(checked.admin, rounds);
      const frameBytes = Buffer.byteLength(pc.frame ?? '');

      // ---- both agents and Caddys over the same window (the agents poll every 5 s meanwhile)
      const pids = [checked.node.proc.pid, plain.node.proc.pid, checked.caddy.proc.pid, plain.caddy.proc.pid];
      const t0 = performance.now();
      const before = pids.map((pid) => sampleProc(pid, t0).cpuSeconds);
      await sleep(windowMs);
      const t1 = performance.now();
      const cpu = pids.map((pid, i) => ((sampleProc(pid, t1).cpuSeconds - before[i]!) * 1000 * 100) / (t1 - t0));

      // ---- what the real agent reported (by now Caddy's gauges have been refreshed once after the load)
      const real = await ctl.api.get<Route[]>(`/routes?nodeId=${checked.node.nodeId}`);
      const verdicts = { up: 0, down: 0, unknown: 0 };
      for (const r of real) for (const u of r.upstreamHealth ?? []) verdicts[u.healthy === true ? 'up' : u.healthy === false ? 'down' : 'unknown']++;
      const storedReal = JSON.parse((await reportAt(ctl, checked.node.nodeId)).upstream_health ?? '[]') as UpstreamReport[];

      // ---- the controller: the real report sent as frames by the replay node, then its GET /routes
      const frames = Array.from({ length: reportCount }, (_, k) =>
        // A different failure count each time: every frame is a change, as the agent sends them.
        JSON.stringify({ type: 'upstream-health', upstreams: pc.report.map((u, j) => (j === 0 ? { ...u, fails: k + 1 } : u)) }),
      );
      const parse: number[] = [];
      for (let k = 0; k < rounds; k++) {
        const text = frames[k % frames.length]!;
        const t = performance.now();
        if (!agentFrameEnvelopeSchema.safeParse(JSON.parse(text)).success) throw new Error('the replayed frame does not validate');
        parse.push(performance.now() - t);
      }
      const rep = await timeReports(ctl, sim, frames);
      const { none, report: withReport } = await timeGets(ctl, sim.nodeId, getRounds);

      sizeRows.push([size, kb(bytes.upstreams), kb(bytes.metrics), kb(bytes.plainMetrics), kb(frameBytes), `${pc.report.length} / ${storedReal.length}`]);
      pollRows.push([size, `${ms(p50(pc.poll))} / ${ms(p95(pc.poll))}`, `${ms(p50(pp.poll))} / ${ms(p95(pp.poll))}`, ratio(p50(pc.poll), p50(pp.poll))]);
      stepRows.push([size, ms(p50(steps.readUpstreams)), ms(p50(steps.readMetrics)), ms(p50(steps.parsePool)), ms(p50(steps.parseGauges)), ms(p50(steps.combine)), ms(steps.dials)]);
      cpuRows.push([size, pct(cpu[0]!, 2), pct(cpu[1]!, 2), ratio(cpu[0]!, cpu[1]!), pct(cpu[2]!, 1), pct(cpu[3]!, 1)]);
      ctlRows.push([
        size,
        ms(p50(parse)),
        `${ms(p50(rep.handled))} / ${ms(p50(rep.stored))}`,
        ms(p50(rep.pingOnly)),
        `${ms(p50(none.get))} → ${ms(p50(withReport.get))}`,
        ratio(p50(withReport.get), p50(none.get)),
        `${ms(summarize(none.get).mean)} → ${ms(summarize(withReport.get).mean)}`,
        `${ms(p50(none.attach))} → ${ms(p50(withReport.attach))}`,
        `${verdicts.up} / ${verdicts.down} / ${verdicts.unknown}`,
      ]);
      Object.assign(metrics, {
        [`metricsBytes${size}`]: bytes.metrics,
        [`upstreamsBytes${size}`]: bytes.upstreams,
        [`frameBytes${size}`]: frameBytes,
        [`pollP50Ms${size}`]: p50(pc.poll),
        [`plainPollP50Ms${size}`]: p50(pp.poll),
        [`agentCpuPct${size}`]: cpu[0]!,
        [`plainAgentCpuPct${size}`]: cpu[1]!,
        [`storedP50Ms${size}`]: p50(rep.stored),
        [`routesGetRatio${size}`]: p50(withReport.get) / p50(none.get),
      });
      if (size === max) {
        summary.push(
          `upstream-health: ${size} upstreams: /metrics ${kb(bytes.metrics)}, /reverse_proxy/upstreams ${kb(bytes.upstreams)}, frame ${kb(frameBytes)}; agent poll p50 ${ms(p50(pc.poll))} (no checks ${ms(p50(pp.poll))}), agent CPU ${pct(cpu[0]!, 2)} (no checks ${pct(cpu[1]!, 2)})`,
          `upstream-health: ${size} upstreams: report sent → stored p50 ${ms(p50(rep.stored))}; GET /routes with report ${ms(p50(withReport.get))} = ${ratio(p50(withReport.get), p50(none.get))} without (${ms(p50(none.get))})`,
        );
      }
    }

    printTable('upstream-health: sizes (checked node; Caddy answers as read by the agent)', ['upstreams', '/reverse_proxy/upstreams', '/metrics', '/metrics, no checks', 'frame', 'entries: frame / stored'], sizeRows);
    printTable(`agent poll round: UpstreamHealthMonitor.poll() p50 / p95 (${rounds} rounds)`, ['upstreams', 'health checks', 'no health checks', 'ratio p50'], pollRows);
    printTable('agent poll round, step by step (health checks), p50', ['upstreams', 'GET upstreams + JSON.parse', 'GET /metrics', 'parse pool', 'parse gauges', 'combine', 'dials (once per config)'], stepRows);
    printTable(`CPU over ${windowMs / 1000} s (agents poll every 5 s; Caddy runs the checks every 5 s)`, ['upstreams', 'agent, checks', 'agent, no checks', 'ratio', 'Caddy, checks', 'Caddy, no checks'], cpuRows);
    printTable(`controller: one report (${reportCount} frames) and GET /routes of that node (${getRounds} requests each way), p50`, [
      'upstreams',
      'frame JSON.parse + zod',
      'frame sent → handled / stored',
      'ping → pong alone',
      'GET /routes: no report → report',
      'ratio',
      'GET /routes, mean',
      'attach() in process',
      'real node: healthy / unhealthy / unknown',
    ], ctlRows);
    return { metrics, summary };
  } finally {
    await cleanup.run();
  }
}

export const upstreamHealth: Scenario = {
  name: 'upstream-health',
  title: 'upstream-health: Caddy status reads, the agent poll, the report frame and GET /routes (100 / 1,000 / 2,000 upstreams; --quick: 100 / 500)',
  run,
};
