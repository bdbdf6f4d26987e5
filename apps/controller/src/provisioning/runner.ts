/**
 * Runs the steps of one provisioning job in order, reporting each (running → succeeded/warning/failed, with
 * its duration and message) and every output line. The first failure stops the run: the remaining steps are
 * skipped and the caller marks the node `error` with the step and the last lines. Whatever happens, the SSH
 * connection is closed and the host's temporary upload directory removed.
 */
import type { JobRun } from './job-run';
import { StepFailure, type StepEnv } from './step-env';
import type { StepDef } from './steps';

const BOLD = '\x1b[1m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

export interface RunOutcome {
  ok: boolean;
  /** `step: message` of the failure. */
  error: string | null;
}

export async function runSteps(run: JobRun, env: StepEnv, steps: StepDef[], isCancelled: () => boolean, persist: () => Promise<void>): Promise<RunOutcome> {
  let outcome: RunOutcome = { ok: true, error: null };
  try {
    for (const [i, step] of steps.entries()) {
      if (isCancelled()) throw new StepFailure('cancelled');
      const startedAt = new Date().toISOString();
      run.setStep(step.name, { status: 'running', startedAt, endedAt: null, message: null });
      run.line(`${BOLD}==> [${i + 1}/${steps.length}] ${step.title}${RESET}`);
      await persist();
      try {
        const result = await step.run(env);
        if (isCancelled()) throw new StepFailure('cancelled');
        run.setStep(step.name, { status: result.warning ? 'warning' : 'succeeded', endedAt: new Date().toISOString(), message: result.message });
        run.line(`${result.warning ? `${YELLOW}! ` : `${GREEN}✓ `}${result.message}${RESET}`);
      } catch (err) {
        const message = isCancelled() ? 'cancelled' : err instanceof StepFailure ? err.message : `unexpected error: ${(err as Error).message}`;
        run.setStep(step.name, { status: 'failed', endedAt: new Date().toISOString(), message });
        run.line(`${RED}✗ ${step.name} failed: ${message}${RESET}`);
        for (const rest of steps.slice(i + 1)) run.setStep(rest.name, { status: 'skipped' });
        outcome = { ok: false, error: `${step.name}: ${message}` };
        break;
      }
      await persist();
    }
  } catch (err) {
    outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    const session = env.session;
    if (session && env.staging) {
      await session.run(`rm -rf '${env.staging}'`, { asUser: true, timeoutMs: 15_000 }).catch(() => {});
    }
    session?.close();
    env.session = null;
  }
  return outcome;
}
