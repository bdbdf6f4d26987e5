/**
 * Generic process / filesystem helpers for integration tests.
 *
 * Rules these helpers follow (and tests should too):
 *  - child processes are only ever stopped by the PID we started (never pkill/killall);
 *  - every wait is bounded (waitFor, stop timeouts);
 *  - missing system binaries fail hard under CI=true and skip (with a message) locally.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

/** True when running under CI (CI=true): missing prerequisites must fail, never skip. */
export function isCI(): boolean {
  return process.env.CI === 'true';
}

// ---------------------------------------------------------------------------
// ports
// ---------------------------------------------------------------------------

/**
 * Ask the kernel for a currently free TCP port on `host` (binds port 0, reads it, closes).
 * There is an inherent race between closing and the real server binding it; callers
 * that start servers should retry on EADDRINUSE where practical.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`freePort: unexpected address ${String(addr)}`));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

// ---------------------------------------------------------------------------
// polling
// ---------------------------------------------------------------------------

export interface WaitForOptions {
  /** Give up after this many ms (default 10_000). */
  timeoutMs?: number;
  /** Delay between attempts in ms (default 100). */
  intervalMs?: number;
  /** Used in the timeout error message. */
  description?: string;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Bounded polling: calls `fn` until it returns a truthy value (which is returned) or
 * `timeoutMs` elapses. Exceptions thrown by `fn` count as "not yet"; the last one is
 * included in the timeout error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<Truthy<Awaited<T>>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const value = await fn();
      if (value) return value as Truthy<Awaited<T>>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const what = opts.description ?? 'condition';
  const cause =
    lastError === undefined
      ? ''
      : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`waitFor: ${what} not met within ${timeoutMs}ms (${attempts} attempts)${cause}`, {
    cause: lastError,
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// temp dirs
// ---------------------------------------------------------------------------

export interface TempDir {
  path: string;
  /** Recursively removes the directory; safe to call more than once. */
  cleanup(): Promise<void>;
}

/** Creates a fresh directory under the OS temp dir (`<tmp>/<prefix>XXXXXX`). */
export async function tempDir(prefix = 'caddyfleet-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    cleanup: () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
  };
}

// ---------------------------------------------------------------------------
// child processes
// ---------------------------------------------------------------------------

export interface SpawnLoggedOptions extends Omit<SpawnOptions, 'stdio' | 'detached'> {
  /** Label used in error messages (default: the command's basename). */
  name?: string;
  /** Max bytes of combined stdout/stderr kept for error messages (default 64 KiB). */
  maxBufferBytes?: number;
  /** Also forward output to this process's stderr (default: CADDYFLEET_TEST_VERBOSE=1). */
  echo?: boolean;
  /**
   * Start the child in its own process group and signal the whole group (-pid) on stop.
   * Use for wrappers like `sh -c` whose grandchildren must die too. Default false.
   */
  processGroup?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error?: Error;
}

export interface LoggedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** Resolves once the process has exited (or failed to spawn). Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Exit info once exited, otherwise undefined. */
  exitInfo(): ExitInfo | undefined;
  /** The tail of combined stdout+stderr (ring buffer). */
  output(): string;
  /** Waits until the captured output matches `pattern`; rejects on timeout or early exit. */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Human-readable status + output tail, for assertion/error messages. */
  describe(): string;
  /** SIGTERM by PID, then SIGKILL after `timeoutMs` (default 5000). Idempotent. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

const liveChildren = new Set<LoggedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Best-effort safety net if a test forgets stop(): kill what we started, by PID.
  process.once('exit', () => {
    for (const p of liveChildren) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

class RingBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
    if (this.size > this.max && this.chunks.length === 1) {
      const only = this.chunks[0]!;
      this.chunks[0] = only.subarray(only.length - this.max);
      this.size = this.max;
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Starts `cmd args` with stdout/stderr captured into a ring buffer (stdin ignored).
 * Throws synchronously-ish (rejected `exited` + error in describe()) if the binary is missing;
 * check `requireBinary` first for optional tools.
 */
export function spawnLogged(cmd: string, args: readonly string[] = [], opts: SpawnLoggedOptions = {}): LoggedProcess {
  const { name: label, maxBufferBytes = 64 * 1024, echo, processGroup = false, ...spawnOpts } = opts;
  const name = label ?? cmd.split('/').pop() ?? cmd;
  const doEcho = echo ?? process.env.CADDYFLEET_TEST_VERBOSE === '1';
  const buffer = new RingBuffer(maxBufferBytes);
  const listeners = new Set<() => void>();

  const child = spawn(cmd, args, {
    ...spawnOpts,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: processGroup,
  });

  const onData = (chunk: Buffer) => {
    buffer.push(chunk);
    if (doEcho) process.stderr.write(`[${name}] ${chunk.toString('utf8')}`);
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('error', (error) => {
      // 'error' without a pid means spawn failed; with a pid it is e.g. a failed kill.
      if (child.pid === undefined && !info) {
        info = { code: null, signal: null, error };
        resolve(info);
      }
    });
    child.once('exit', (code, signal) => {
      if (!info) info = { code, signal };
      resolve(info);
    });
  }).then((i) => {
    liveChildren.delete(proc);
    for (const l of listeners) l();
    return i;
  });

  const signal = (sig: NodeJS.Signals) => {
    if (info || child.pid === undefined) return;
    try {
      process.kill(processGroup ? -child.pid : child.pid, sig);
    } catch {
      /* already exited */
    }
  };

  let stopping: Promise<ExitInfo> | undefined;

  const proc: LoggedProcess = {
    child,
    get pid() {
      return child.pid ?? -1;
    },
    name,
    exited,
    exitInfo: () => info,
    output: () => buffer.toString(),
    describe() {
      const status = info
        ? info.error
          ? `failed to start: ${info.error.message}`
          : `exited (code=${info.code}, signal=${info.signal})`
        : 'running';
      const out = buffer.toString().trimEnd();
      return `${name} [pid ${child.pid ?? '-'}] ${status}\n--- output tail ---\n${out || '(no output)'}\n--- end ---`;
    },
    waitForOutput(pattern, timeoutMs = 10_000) {
      const matches = () =>
        typeof pattern === 'string' ? buffer.toString().includes(pattern) : pattern.test(buffer.toString());
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches()) return done();
          if (info) return done(new Error(`${name} exited before output matched ${String(pattern)}\n${proc.describe()}`));
        };
        const timer = setTimeout(
          () => done(new Error(`timed out after ${timeoutMs}ms waiting for ${String(pattern)}\n${proc.describe()}`)),
          timeoutMs,
        );
        const done = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    stop(timeoutMs = 5_000) {
      if (stopping) return stopping;
      stopping = (async () => {
        if (info) return info;
        signal('SIGTERM');
        const timedOut = Symbol('timeout');
        let timer: NodeJS.Timeout | undefined;
        const first = await Promise.race([
          exited,
          new Promise<typeof timedOut>((r) => (timer = setTimeout(() => r(timedOut), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (first !== timedOut) return first;
        signal('SIGKILL');
        return exited;
      })();
      return stopping;
    },
  };

  if (child.pid !== undefined) {
    liveChildren.add(proc);
    installExitHook();
  }
  return proc;
}

/** True while a process with this PID exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until the process `pid` is gone. */
export function waitPidGone(pid: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(() => !pidAlive(pid), { timeoutMs, description: `process ${pid} gone` });
}

// ---------------------------------------------------------------------------
// system binaries
// ---------------------------------------------------------------------------

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves a command name via PATH (or checks an absolute/relative path). Returns null if absent. */
export function findBinary(nameOrPath: string): string | null {
  if (nameOrPath.includes('/')) {
    const p = isAbsolute(nameOrPath) ? nameOrPath : join(process.cwd(), nameOrPath);
    return isExecutable(p) ? p : null;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, nameOrPath);
    if (isExecutable(p)) return p;
  }
  return null;
}

/**
 * Checks that a system binary (absolute path or command name on PATH) is present.
 *  - present: returns true;
 *  - missing and CI=true: throws (CI must fail, never silently skip);
 *  - missing locally: prints why and returns false so the test can skip, e.g.
 *      describe.skipIf(!requireBinary('/usr/bin/caddy', 'caddy'))('caddy e2e', () => { ... })
 */
export function requireBinary(path: string, aptPackage: string): boolean {
  if (findBinary(path) !== null) return true;
  const msg = `required binary ${path} not found (Debian package: ${aptPackage}; install with: apt-get install -y ${aptPackage})`;
  if (isCI()) throw new Error(`${msg}. CI=true: refusing to skip. .ci/run should have installed it.`);
  console.warn(`[skip] ${msg}; skipping the tests that need it.`);
  return false;
}
