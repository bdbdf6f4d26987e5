/**
 * Recognising the Caddy a previous agent left running (--keep-caddy, or an agent killed with SIGKILL) from its
 * pid file and /proc. A PID alone proves nothing (PIDs are reused): a process counts as ours only when its
 * command line runs our bootstrap file, and from then on it is identified by PID plus start time, which a
 * reused PID cannot share.
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

export interface ProcStat {
  /** R, S, D, T, Z (zombie), X (dead), … */
  state: string;
  pgrp: number;
  /** Clock ticks after boot; with the PID it names one process for the life of the machine. */
  startTime: string;
}

/** A live process that runs our bootstrap file. */
export interface OurProcess {
  pid: number;
  startTime: string;
}

/** Linux's largest pid_max (2^22). */
const PID_MAX = 4_194_304;

export function parsePidFile(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,7}$/.test(t)) return null;
  const pid = Number(t);
  // PID 1 is init; never a Caddy of ours, and never to be signalled.
  return pid > 1 && pid <= PID_MAX ? pid : null;
}

/** /proc/<pid>/cmdline: arguments separated (and ended) by NUL bytes. */
export function parseCmdline(raw: string): string[] {
  const args = raw.split('\0');
  if (args.at(-1) === '') args.pop();
  return args;
}

/**
 * `<caddy> run --config <bootstrapFile>`, as the agent spawns it (Go's flag package also accepts `-config` and
 * `--config=`). Exact arguments, not a substring: `vi …/bootstrap.json` or `caddy run --config …/bootstrap.json.bak`
 * are not ours.
 */
export function runsBootstrap(argv: readonly string[], bootstrapFile: string): boolean {
  if (argv[1] !== 'run') return false;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if ((a === '--config' || a === '-config') && argv[i + 1] === bootstrapFile) return true;
    if (a === `--config=${bootstrapFile}` || a === `-config=${bootstrapFile}`) return true;
  }
  return false;
}

/**
 * /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain spaces and ')', so the
 * fields are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  const f = text.slice(end + 1).trim().split(/\s+/);
  // f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
  if (f.length < 20 || !/^\d+$/.test(f[19]!)) return null;
  return { state: f[0]!, pgrp: Number(f[2]), startTime: f[19]! };
}

/** A zombie has exited (only its parent has not reaped it yet): as good as gone for us. */
function isDead(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X' || stat.state === 'x';
}

export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Synchronous (one small /proc read) so liveness can be polled and asked for without awaiting. */
export function isAlive(p: OurProcess): boolean {
  const stat = readProcStat(p.pid);
  return stat !== null && !isDead(stat) && stat.startTime === p.startTime;
}

/** The live process the pid file names, if it runs our bootstrap file; null when none, dead or foreign. */
export async function findOurProcess(pidFile: string, bootstrapFile: string): Promise<OurProcess | null> {
  let pid: number | null;
  try {
    pid = parsePidFile(await readFile(pidFile, 'utf8'));
  } catch {
    return null;
  }
  if (pid === null) return null;
  const before = readProcStat(pid);
  if (!before || isDead(before)) return null;
  let argv: string[];
  try {
    argv = parseCmdline(await readFile(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return null;
  }
  // The command line must belong to the process whose start time we keep, not to a PID reused in between.
  const after = readProcStat(pid);
  if (!after || after.startTime !== before.startTime || !runsBootstrap(argv, bootstrapFile)) return null;
  return { pid, startTime: before.startTime };
}

/**
 * Whether the process runs the file `bin` names now (same device and inode; symlinks followed). False when `bin`
 * was replaced since the process started (a package upgrade), null when that cannot be told (no permission).
 */
export async function runsBinary(pid: number, bin: string): Promise<boolean | null> {
  try {
    const [running, wanted] = await Promise.all([stat(`/proc/${pid}/exe`), stat(bin)]);
    return running.dev === wanted.dev && running.ino === wanted.ino;
  } catch {
    return null;
  }
}

/** Signals `p` unless its PID now names another process (or none). */
export function signalProcess(p: OurProcess, sig: NodeJS.Signals): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/**
 * SIGTERM, then SIGKILL after `termMs`; resolves true once it is gone (bounded by termMs + killMs). SIGCONT
 * follows SIGTERM, as systemd does: a stopped process (SIGSTOP, a debugger) only acts on SIGTERM once continued.
 */
export async function stopProcess(p: OurProcess, termMs = 5000, killMs = 2000): Promise<boolean> {
  for (const [sig, waitMs] of [['SIGTERM', termMs], ['SIGKILL', killMs]] as const) {
    signalProcess(p, sig);
    if (sig === 'SIGTERM') signalProcess(p, 'SIGCONT');
    for (let waited = 0; waited < waitMs && isAlive(p); waited += 100) await new Promise((r) => setTimeout(r, 100));
    if (!isAlive(p)) return true;
  }
  return false;
}
