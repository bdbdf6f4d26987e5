/**
 * The agent's upstream-health poll, run in the bench process against a node's real Caddy: the agent's own
 * UpstreamHealthMonitor (timed per `poll()`, its frame captured by a stand-in connection) and the same round
 * split into its steps. The agent child does the same every 5 s; timing it here gives per-round numbers that
 * /proc's 10 ms CPU ticks cannot.
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { combineUpstreamHealth, parseHealthyGauges, parseUpstreamPool, reverseProxyDials, type CaddyAdmin, type CaddyConfig } from '@caddyfleet/caddy';
import type { AgentFrame, UpstreamReport } from '@caddyfleet/protocol';
import { UpstreamHealthMonitor } from '../../apps/agent/src/upstream-health';

export interface PollRounds {
  /** ms of each whole `poll()` (read both endpoints, parse, combine, decide whether to send). */
  poll: number[];
  /** The first frame the monitor sent (the one the agent sends on connect), serialised. */
  frame: string | null;
  report: UpstreamReport[];
}

/** `rounds` polls of a fresh monitor against `admin`, back to back, for the config Caddy runs now. */
export async function timePolls(admin: CaddyAdmin, rounds: number): Promise<PollRounds> {
  const config = (await admin.getConfig()) as CaddyConfig;
  let frame: string | null = null;
  const monitor = new UpstreamHealthMonitor({
    admin,
    config: () => config,
    loads: () => 1,
    connection: () => ({
      connected: true,
      connects: 1,
      send: (f: AgentFrame) => {
        frame ??= JSON.stringify(f);
        return true;
      },
    }),
    log: pino({ enabled: false }),
  });
  const poll: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await monitor.poll();
    poll.push(performance.now() - t);
  }
  return { poll, frame, report: monitor.current };
}

export interface PollSteps {
  readUpstreams: number[];
  readMetrics: number[];
  parsePool: number[];
  parseGauges: number[];
  combine: number[];
  /** Once per loaded config in the agent (cached until the next load). */
  dials: number;
  dialCount: number;
}

/** The steps of one round, timed one by one (`readUpstreams` includes the admin client's JSON.parse). */
export async function timeSteps(admin: CaddyAdmin, rounds: number): Promise<PollSteps> {
  const config = await admin.getConfig();
  let t = performance.now();
  const dialList = reverseProxyDials(config);
  const out: PollSteps = { readUpstreams: [], readMetrics: [], parsePool: [], parseGauges: [], combine: [], dials: performance.now() - t, dialCount: dialList.length };
  let previous = new Map<string, boolean | null>();
  for (let i = 0; i < rounds; i++) {
    t = performance.now();
    const json = await admin.reverseProxyUpstreams();
    out.readUpstreams.push(performance.now() - t);
    t = performance.now();
    const text = await admin.metrics();
    out.readMetrics.push(performance.now() - t);
    t = performance.now();
    const pool = parseUpstreamPool(json);
    out.parsePool.push(performance.now() - t);
    t = performance.now();
    const gauges = parseHealthyGauges(text);
    out.parseGauges.push(performance.now() - t);
    t = performance.now();
    const report = combineUpstreamHealth(dialList, pool, gauges, previous);
    out.combine.push(performance.now() - t);
    previous = new Map(report.map((u) => [u.address, u.healthy]));
  }
  return out;
}

/** Byte size of a GET on Caddy's admin API (TCP on loopback). */
export async function adminBytes(adminListen: string, path: string): Promise<number> {
  const res = await fetch(`http://${adminListen}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path} on Caddy's admin API: HTTP ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}
