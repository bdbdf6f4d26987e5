/**
 * The Caddy process a ManagedCaddy supervises: a child it spawned, or one adopted from a previous agent. An
 * adopted process is not our child, so no exit event arrives for it (and Node has no pidfd): its liveness is
 * polled through /proc by PID and start time.
 */
import { spawn } from 'node:child_process';
import { isAlive, signalProcess, type OurProcess } from './caddy-pid';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CaddyHandle {
  readonly pid: number;
  readonly adopted: boolean;
  readonly alive: boolean;
  /** Resolves once the process is gone; with code and signal for a child, null for an adopted process. */
  readonly exited: Promise<ExitInfo | null>;
  signal(sig: NodeJS.Signals): void;
  /** Stops watching: the agent leaves and the process keeps running on its own. */
  release(): void;
}

export interface SpawnSpec {
  bin: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Open file descriptor for stdout and stderr (the log file). */
  outputFd: number;
}

/**
 * Spawns Caddy so that it can outlive the agent: in its own session and process group (a terminal's Ctrl-C goes
 * to the agent's group, not to Caddy), output to a file rather than pipes (a Go program dies of SIGPIPE writing
 * to a pipe nobody reads any more), and unref'd so an agent leaving it running can exit.
 * Rejects when the binary cannot be started at all (ENOENT, EACCES).
 */
export async function spawnDetached(spec: SpawnSpec): Promise<CaddyHandle> {
  const child = spawn(spec.bin, spec.args, { detached: true, stdio: ['ignore', spec.outputFd, spec.outputFd], env: spec.env });
  const exited = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // A later 'error' event (a failed kill) must not crash the agent.
  child.on('error', () => {});
  child.unref();
  return {
    pid: child.pid!,
    adopted: false,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    exited,
    signal(sig) {
      // Our own child: its PID cannot be reused before Node reaps it, so the handle's kill is safe.
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    release() {},
  };
}

/** Watches a process that is not our child, every `pollMs`; `alive` also looks right away. */
export function watchAdopted(p: OurProcess, pollMs: number): CaddyHandle {
  let gone = false;
  let onGone: () => void = () => {};
  const exited = new Promise<null>((resolve) => (onGone = () => resolve(null)));
  const check = () => {
    if (gone || isAlive(p)) return;
    gone = true;
    clearInterval(timer);
    onGone();
  };
  const timer = setInterval(check, pollMs);
  timer.unref();
  return {
    pid: p.pid,
    adopted: true,
    get alive() {
      check();
      return !gone;
    },
    exited,
    signal: (sig) => signalProcess(p, sig),
    release: () => clearInterval(timer),
  };
}
