/**
 * A bounded client loop for "did it keep serving" tests: sequential GETs through a Caddy on a loopback address,
 * one new TCP connection per request (so a refused connect is seen, not hidden by a kept-alive socket), paced
 * and capped in count and time. It reports failures and the longest gap between two good answers.
 *
 *   const t = startTraffic({ ip, port, host: 'app.test', ok: (r) => r.body === 'UP app.test/' });
 *   …restart something…
 *   const report = await t.stop();   // { requests, failed, refused, longestGapMs, exhausted, … }
 */
import { httpGet, type HttpReply } from './http-probe';
import { sleep } from './processes';

export interface TrafficOptions {
  ip: string;
  port: number;
  host: string;
  /** A good answer (anything else, or no answer, is a failure). */
  ok: (r: HttpReply) => boolean;
  /** Bounds (default 4000 requests, 20 s). */
  maxRequests?: number;
  maxMs?: number;
  /** Minimum time between the starts of two requests (default 5 ms). */
  paceMs?: number;
  /** Per-request deadline (default 2000 ms). */
  timeoutMs?: number;
}

export interface TrafficReport {
  requests: number;
  failed: number;
  /** Failures that were a refused connection (nothing listening). */
  refused: number;
  /** Longest time between two good answers (or from the start to the first one), in ms. */
  longestGapMs: number;
  durationMs: number;
  /** The loop stopped on its own bounds before stop() was called: it may not have covered what was tested. */
  exhausted: boolean;
  /** The first few failures, for assertion messages. */
  samples: string[];
}

export function startTraffic(o: TrafficOptions) {
  const maxRequests = o.maxRequests ?? 4000;
  const maxMs = o.maxMs ?? 20_000;
  const paceMs = o.paceMs ?? 5;
  const started = Date.now();
  const r: TrafficReport = { requests: 0, failed: 0, refused: 0, longestGapMs: 0, durationMs: 0, exhausted: false, samples: [] };
  let lastGood = started;
  let stopped = false;
  const fail = (what: string) => {
    r.failed++;
    if (r.samples.length < 5) r.samples.push(`${new Date().toISOString()} ${what}`);
  };
  const loop = (async () => {
    while (!stopped) {
      if (r.requests >= maxRequests || Date.now() - started >= maxMs) {
        r.exhausted = true;
        break;
      }
      const t0 = Date.now();
      r.requests++;
      try {
        const reply = await httpGet(o.ip, o.port, o.host, '/', o.timeoutMs ?? 2000);
        if (o.ok(reply)) {
          const now = Date.now();
          r.longestGapMs = Math.max(r.longestGapMs, now - lastGood);
          lastGood = now;
        } else fail(`${reply.status} ${reply.body.slice(0, 100)}`);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ECONNREFUSED') r.refused++;
        fail(e.code ?? e.message);
      }
      const wait = paceMs - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    /** Requests made so far. */
    count: () => r.requests,
    async stop(): Promise<TrafficReport> {
      stopped = true;
      await loop;
      // A loop that ends inside an outage counts the time since the last good answer too.
      r.longestGapMs = Math.max(r.longestGapMs, Date.now() - lastGood);
      r.durationMs = Date.now() - started;
      return { ...r };
    },
  };
}

/** One line for the test output: `label: 812 requests, 0 failed (0 refused), longest gap 14 ms over 4.2 s`. */
export function describeTraffic(label: string, r: TrafficReport): string {
  return `${label}: ${r.requests} requests, ${r.failed} failed (${r.refused} refused), longest gap ${r.longestGapMs} ms over ${(r.durationMs / 1000).toFixed(1)} s`;
}
