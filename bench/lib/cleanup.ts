/**
 * Cleanup bookkeeping for the benchmark. Every scenario registers what it started (child processes, servers,
 * temp dirs, the in-process controller) on a Cleanup and runs it in `finally`, so nothing outlives a failed
 * scenario. Processes are only ever stopped by the PID we know (never by name). As a last resort, PIDs that
 * are still registered when the bench process exits (or gets SIGINT/SIGTERM) are SIGKILLed one by one.
 */
import { pidAlive } from '../../tests/helpers/processes';

export { pidAlive };

type Step = { what: string; fn: () => Promise<unknown> | unknown };

/** PIDs started (directly or, for managed Caddies, by our agents) that are not known to be gone yet. */
const livePids = new Map<number, string>();
const active = new Set<Cleanup>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const pid of livePids.keys()) killPid(pid, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig} received, cleaning up\n`);
      const all = [...active].map((c) => c.run());
      const timeout = new Promise((r) => setTimeout(r, 15_000).unref());
      void Promise.race([Promise.allSettled(all), timeout]).finally(() => process.exit(130));
    });
  }
}

export function killPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Remembers a PID so the exit hook can SIGKILL it if a scenario's cleanup never gets to it. */
export function trackPid(pid: number, what: string): void {
  installHooks();
  livePids.set(pid, what);
}

export function untrackPid(pid: number): void {
  livePids.delete(pid);
}

/** SIGTERM by PID, wait up to `graceMs`, then SIGKILL; bounded in time. Works for processes we did not spawn. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (pidAlive(pid)) {
    killPid(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (pidAlive(pid)) {
      killPid(pid, 'SIGKILL');
      const hard = Date.now() + 2000;
      while (pidAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
    }
  }
  untrackPid(pid);
}

/** LIFO list of cleanup steps; every step runs even when earlier ones fail. */
export class Cleanup {
  private steps: Step[] = [];
  private running: Promise<void> | null = null;

  constructor() {
    installHooks();
    active.add(this);
  }

  add(what: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length) {
        const step = this.steps.pop()!;
        try {
          await Promise.race([
            Promise.resolve().then(step.fn),
            new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 20 s')), 20_000).unref()),
          ]);
        } catch (err) {
          process.stderr.write(`bench cleanup: ${step.what}: ${(err as Error).message}\n`);
        }
      }
      active.delete(this);
    })();
    return this.running;
  }
}
