/**
 * `npm run bench [-- --only <name>[,<name>…]] [-- --quick]`: runs the benchmark scenarios one after the other,
 * prints a table per scenario and a summary. It measures and reports; it never asserts timings. Every scenario
 * stops what it started (by PID) even when it fails, and the run is bounded in time.
 */
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { changeToServed } from './scenarios/change-to-served';
import { configShape } from './scenarios/config-shape';
import { bigNode } from './scenarios/big-node';
import { burst } from './scenarios/burst';
import { fanOut } from './scenarios/fan-out';
import { fanoutSim } from './scenarios/fanout-sim';
import { scale } from './scenarios/scale';
import { docker } from './scenarios/docker';
import { agentLoad } from './scenarios/agent-load';
import { reloadResets } from './scenarios/reload-resets';
import { upstreamHealth } from './scenarios/upstream-health';
import { figureLines } from './lib/figures';
import type { Scenario, ScenarioContext } from './lib/scenario';
import { secs } from './lib/stats';

const SCENARIOS: Scenario[] = [changeToServed, configShape, bigNode, burst, fanOut, fanoutSim, scale, docker, agentLoad, reloadResets, upstreamHealth];
/** A scenario that takes longer than this is abandoned (its cleanup still runs when it unwinds). */
const SCENARIO_LIMIT_MS = 10 * 60_000;

/** Other work on the machine skews every number here; the load average is printed to judge that. */
const loadavg = () => os.loadavg().map((v) => v.toFixed(2)).join(' / ');

function usage(): never {
  process.stdout.write(
    `usage: npm run bench -- [--only <name>[,<name>…]] [--quick]\n  scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { only: Set<string> | null; quick: boolean } {
  let only: Set<string> | null = null;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) usage();
      only = new Set(v.split(',').map((s) => s.trim()).filter(Boolean));
      for (const n of only) if (!SCENARIOS.some((s) => s.name === n)) {
        process.stdout.write(`unknown scenario "${n}"\n`);
        usage();
      }
    } else if (a === '--help' || a === '-h') usage();
    else {
      process.stdout.write(`unknown argument "${a}"\n`);
      usage();
    }
  }
  return { only, quick };
}

async function main(): Promise<void> {
  const { only, quick } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const ctx: ScenarioContext = { quick, results: new Map() };
  const summary: string[] = [];
  let failed = 0;
  process.stdout.write(
    `caddyfleet bench${quick ? ' (quick)' : ''} — node ${process.version}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, load average ${loadavg()}, ${new Date().toISOString()}\n`,
  );
  for (const scenario of SCENARIOS) {
    if (only && !only.has(scenario.name)) continue;
    process.stdout.write(`\n##### ${scenario.title}${quick ? ' — quick' : ''}\n`);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`abandoned after ${SCENARIO_LIMIT_MS / 1000} s`)), SCENARIO_LIMIT_MS);
      });
      const result = await Promise.race([scenario.run(ctx), limit]);
      ctx.results.set(scenario.name, result.metrics);
      const took = (performance.now() - t0) / 1000;
      summary.push(...result.summary.map((l) => `  ${l}`), `    (${scenario.name} took ${secs(took, 1)})`);
    } catch (err) {
      failed++;
      const took = (performance.now() - t0) / 1000;
      process.stdout.write(`\n!! ${scenario.name} failed after ${secs(took, 1)}: ${(err as Error).stack ?? String(err)}\n`);
      summary.push(`  ${scenario.name}: FAILED (${(err as Error).message.split('\n')[0]})`);
    } finally {
      clearTimeout(timer);
    }
  }
  const total = (performance.now() - started) / 1000;
  process.stdout.write(`\n##### summary\n${summary.join('\n')}\n  total runtime ${secs(total, 1)}; load average at the end ${loadavg()}\n`);
  process.stdout.write(`\n##### issue 11 figures (name: value (goal …))\n${figureLines().join('\n')}\n`);
  process.exitCode = failed ? 1 : 0;
  // Everything was closed by the scenarios; should a stray handle remain, do not hang on it.
  setTimeout(() => {
    process.stderr.write('bench: exiting with open handles left behind\n');
    process.exit(process.exitCode);
  }, 5000).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
