/**
 * Reports the health of the upstreams of this node's proxy routes to the controller (`upstream-health` frames).
 * Every few seconds, while connected, it reads Caddy's upstream pool and its health gauges (see
 * packages/caddy/src/upstream-status.ts) for the dial addresses of the running config, and sends the list when
 * a verdict or a failure count changed, on every new connection, and at most once a minute when only the
 * in-flight counts moved (those change with every request and matter little). For one gauge refresh after each
 * config load, `healthy` verdicts are not believed (see combineUpstreamHealth).
 */
import type { Logger } from 'pino';
import { combineUpstreamHealth, parseHealthyGauges, parseUpstreamPool, reverseProxyTargets, type CaddyAdmin, type CaddyConfig, type PoolEntry } from '@caddyfleet/caddy';
import type { AgentFrame, UpstreamReport } from '@caddyfleet/protocol';
import { errorMessage } from './errors';

export const UPSTREAM_HEALTH_POLL_MS = 5000;
/** Caddy refreshes its health gauge every 10 s; until a loaded config's handlers did, a `healthy` says nothing. */
const GAUGE_REFRESH_MS = 11_000;
/** A report whose only change is in-flight counts waits this long after the last one sent. */
const COUNTS_ONLY_MIN_MS = 60_000;

export interface UpstreamHealthDeps {
  admin: CaddyAdmin;
  /** The config Caddy runs, or null before the first apply. */
  config: () => CaddyConfig | null;
  /** How many times a config was loaded into Caddy (restores and drift repairs too: each resets the gauges). */
  loads: () => number;
  /** The live controller connection, if any: `send` is false when the frame could not go out. */
  connection: () => { connected: boolean; connects: number; send(frame: AgentFrame): boolean } | null;
  log: Logger;
  pollMs?: number;
  now?: () => number;
}

/** What changed between two reports, for deciding whether to send. */
export function reportChange(before: readonly UpstreamReport[] | null, after: readonly UpstreamReport[]): 'none' | 'counts' | 'state' {
  if (before === null || before.length !== after.length) return 'state';
  let counts = false;
  for (let i = 0; i < after.length; i++) {
    const a = before[i]!;
    const b = after[i]!;
    if (a.address !== b.address || a.healthy !== b.healthy || a.fails !== b.fails) return 'state';
    if (a.numRequests !== b.numRequests) counts = true;
  }
  return counts ? 'counts' : 'none';
}

export class UpstreamHealthMonitor {
  /** The last list read from Caddy (also what the agent's local status could show). */
  current: UpstreamReport[] = [];
  private sent: { report: UpstreamReport[]; connects: number; at: number } | null = null;
  private dials: { of: CaddyConfig | null; list: string[]; checked: boolean } = { of: null, list: [], checked: false };
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;
  private warned = false;
  private loads = -1;
  private loadedAt = 0;

  constructor(private readonly deps: UpstreamHealthDeps) {}

  start(): void {
    this.schedule(Math.min(1000, this.pollMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }

  private get pollMs(): number {
    return this.deps.pollMs ?? UPSTREAM_HEALTH_POLL_MS;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = null;
        this.schedule(this.pollMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One round: read Caddy (when the config has upstreams), then send if due. Never throws. */
  async poll(): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    const loads = this.deps.loads();
    if (loads !== this.loads) {
      this.loads = loads;
      this.loadedAt = now;
    }
    const conn = this.deps.connection();
    if (!conn?.connected) return;
    const config = this.deps.config();
    if (config === null) return;
    if (this.dials.of !== config) {
      const targets = reverseProxyTargets(config);
      this.dials = { of: config, list: targets.dials, checked: targets.healthChecked };
    }
    let report: UpstreamReport[] = [];
    if (this.dials.list.length) {
      const { admin, log } = this.deps;
      let pool: Map<string, PoolEntry>;
      try {
        pool = parseUpstreamPool(await admin.reverseProxyUpstreams());
      } catch (err) {
        // Caddy is restarting or away: nothing new to say.
        log.debug({ err: errorMessage(err) }, 'could not read Caddy\'s upstreams');
        return;
      }
      let gauges = new Map<string, boolean>();
      // Without health checks Caddy's gauge is 1 for every upstream and means nothing: not worth reading /metrics.
      if (this.dials.checked) {
        try {
          gauges = parseHealthyGauges(await admin.metrics());
        } catch (err) {
          log.debug({ err: errorMessage(err) }, 'could not read Caddy\'s metrics; keeping the last health verdicts');
        }
      }
      const previous = new Map<string, boolean | null>(this.dials.checked ? this.current.map((u) => [u.address, u.healthy]) : []);
      report = combineUpstreamHealth(this.dials.list, pool, gauges, previous, now - this.loadedAt < GAUGE_REFRESH_MS);
      if (report.length < this.dials.list.length && !this.warned) {
        this.warned = true;
        log.warn({ upstreams: this.dials.list.length, reported: report.length }, 'not every upstream address can be reported');
      }
    }
    this.current = report;
    this.sendIfDue(conn, now);
  }

  private sendIfDue(conn: NonNullable<ReturnType<UpstreamHealthDeps['connection']>>, now: number): void {
    const change = this.sent?.connects === conn.connects ? reportChange(this.sent.report, this.current) : 'state';
    if (change === 'none' || (change === 'counts' && now - this.sent!.at < COUNTS_ONLY_MIN_MS)) return;
    if (conn.send({ type: 'upstream-health', upstreams: this.current })) this.sent = { report: this.current, connects: conn.connects, at: now };
  }
}
