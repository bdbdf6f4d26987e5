/**
 * The Caddy the agent starts itself (--caddy-bin). It boots with nothing but an admin endpoint on a unix socket
 * inside the state directory (no TCP admin port for anyone else to reach), in its own XDG home so certificates
 * live with the agent's state. If it dies, it is started again and the agent re-applies the last config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { Backoff, cancellableSleep } from './backoff';
import { errorMessage } from './errors';

export interface ManagedCaddyOptions {
  bin: string;
  /** `<stateDir>/caddy`: bootstrap config, admin socket, pid file, XDG config and data. */
  dir: string;
  log: Logger;
  /** Runs after every start, once the admin API answers: the agent loads its config here. */
  onStarted: (restarted: boolean) => Promise<void>;
  /** Caddy keeps dying right after start: the agent stops with this reason. */
  onGiveUp: (reason: string) => void;
  restartMinMs?: number;
  restartMaxMs?: number;
  /** Consecutive starts that die within `stableAfterMs` before giving up. */
  maxQuickFailures?: number;
  stableAfterMs?: number;
  readyTimeoutMs?: number;
}

const OUTPUT_TAIL_LINES = 40;
/**
 * How long an exit waits before it counts as a crash: when a service manager stops the whole unit, Caddy and
 * the agent get their signal at the same moment, and the agent's own stop must get the chance to say so.
 */
const EXIT_SETTLE_MS = 300;

export class ManagedCaddy {
  /** Caddy's own spelling of a unix admin address, as rendered into every config. */
  readonly adminListen: string;
  readonly admin: CaddyAdmin;
  readonly socketPath: string;
  readonly bootstrapFile: string;
  readonly pidFile: string;
  /** Certificate storage: Caddy's default under XDG_DATA_HOME, set explicitly in every config. */
  readonly storageDir: string;
  restarts = 0;

  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private stopping = false;
  /** Restarts begin only once the first start worked; a failed first start is the caller's error. */
  private supervising = false;
  private restarting = false;
  private restartSleep: { cancel: () => void } | null = null;
  private quickFailures = 0;
  private readonly backoff: Backoff;
  private tail: string[] = [];

  constructor(private readonly opts: ManagedCaddyOptions) {
    this.socketPath = path.join(opts.dir, 'admin.sock');
    this.adminListen = `unix/${this.socketPath}`;
    this.admin = new CaddyAdmin(this.adminListen);
    this.bootstrapFile = path.join(opts.dir, 'bootstrap.json');
    this.pidFile = path.join(opts.dir, 'caddy.pid');
    this.storageDir = path.join(opts.dir, 'data', 'caddy');
    this.backoff = new Backoff(opts.restartMinMs ?? 500, opts.restartMaxMs ?? 30_000);
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** First start: throws (with Caddy's last output) if Caddy does not come up. */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.opts.dir, 'config'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.opts.dir, 'data'), { recursive: true, mode: 0o700 });
    await writeFile(this.bootstrapFile, JSON.stringify({ admin: { listen: this.adminListen } }) + '\n', { mode: 0o600 });
    await this.stopLeftover();
    await this.spawnAndWait();
    this.supervising = true;
    await this.opts.onStarted(false);
  }

  /** The agent is stopping: an exit of Caddy from now on is expected and not restarted. */
  prepareStop(): void {
    this.stopping = true;
    this.restartSleep?.cancel();
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    this.restartSleep?.cancel();
    // A restart in flight may have spawned a new child meanwhile; bounded, it checks `stopping` before spawning.
    for (let i = 0; i < 3 && this.running; i++) await this.endChild(timeoutMs);
    await rm(this.pidFile, { force: true });
    this.opts.log.info('Caddy stopped');
  }

  /**
   * A planned restart (not a crash): stops Caddy gracefully, starts it again and re-applies through onStarted.
   * Used after a /load that failed while starting listeners, which leaves servers of the refused config running
   * in Caddy (caddyserver/caddy#7175); only a new process is sure to serve exactly the applied config again.
   */
  async restart(reason: string): Promise<void> {
    if (this.stopping || this.restarting || !this.supervising) return;
    this.restarting = true;
    try {
      this.opts.log.warn({ reason }, 'restarting Caddy');
      await this.endChild(5000);
      if (this.stopping) return;
      await this.spawnAndWait();
      this.restarts++;
      this.opts.log.warn({ pid: this.pid, restarts: this.restarts }, 'Caddy restarted');
      await this.opts.onStarted(true);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'planned Caddy restart failed');
    } finally {
      this.restarting = false;
    }
    if (!this.stopping && !this.running) void this.restartLoop(0);
  }

  /** Graceful first (Caddy finishes in-flight requests), then SIGTERM and SIGKILL by PID. */
  private async endChild(timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    try {
      await new CaddyAdmin(this.adminListen, { timeoutMs: 2000 }).stop();
    } catch {
      // Admin unreachable; fall through to signals.
    }
    if (await this.waitExit(timeoutMs)) return;
    this.signal(child, 'SIGTERM');
    if (await this.waitExit(timeoutMs)) return;
    this.signal(child, 'SIGKILL');
    await this.waitExit(timeoutMs);
  }

  /** Caddy's last lines of output, for error messages. */
  outputTail(): string {
    return this.tail.join('\n');
  }

  private signal(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      process.kill(child.pid, sig);
    } catch {
      // Already gone.
    }
  }

  private async waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }

  /**
   * A Caddy left behind by an agent that was killed (SIGKILL leaves children running) would hold the ports.
   * It is stopped only if its command line shows it is ours: it runs our bootstrap file.
   */
  private async stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number((await readFile(this.pidFile, 'utf8')).trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1) return;
    let cmdline: string;
    try {
      cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
    } catch {
      return; // Not running (or no /proc): nothing to do.
    }
    if (!cmdline.includes(this.bootstrapFile)) return;
    this.opts.log.warn({ pid }, 'stopping a Caddy left running by a previous agent');
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const [sig, waitMs] of [['SIGTERM', 5000], ['SIGKILL', 2000]] as const) {
      try {
        process.kill(pid, sig);
      } catch {
        return;
      }
      for (let waited = 0; waited < waitMs && alive(); waited += 100) await new Promise((r) => setTimeout(r, 100));
      if (!alive()) return;
    }
  }

  private async spawnAndWait(): Promise<void> {
    const dir = this.opts.dir;
    const child = spawn(this.opts.bin, ['run', '--config', this.bootstrapFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C in a terminal signals the agent only, which then stops Caddy gracefully.
      detached: true,
      env: {
        ...process.env,
        // Keeps Caddy's autosave, certificates and local CA inside the state dir, not in the agent user's home.
        HOME: dir,
        XDG_CONFIG_HOME: path.join(dir, 'config'),
        XDG_DATA_HOME: path.join(dir, 'data'),
      },
    });
    this.child = child;
    this.startedAt = Date.now();
    this.tail = [];
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        this.onExit(child, code, signal);
      });
      child.once('error', (err) => {
        // Without a pid the spawn itself failed (ENOENT, EACCES): there will be no 'exit'.
        if (child.pid === undefined) {
          this.pushTail(`spawn failed: ${err.message}`);
          resolve();
          this.onExit(child, null, null);
        }
      });
    });
    this.capture(child);
    if (child.pid !== undefined) await writeFile(this.pidFile, `${child.pid}\n`, { mode: 0o600 }).catch(() => {});

    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) break;
      if (await this.admin.ping()) {
        this.opts.log.info({ pid: child.pid, admin: this.adminListen }, 'Caddy started');
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const why = child.pid === undefined ? 'could not be started' : this.running ? 'did not answer on its admin socket in time' : 'exited during start-up';
    if (this.running) this.signal(child, 'SIGKILL');
    throw new Error(`Caddy (${this.opts.bin}) ${why}\n--- Caddy output ---\n${this.outputTail() || '(none)'}`);
  }

  private capture(child: ChildProcess): void {
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.onLine(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  private pushTail(line: string): void {
    this.tail.push(line.length > 2000 ? line.slice(0, 2000) + '...' : line);
    if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
  }

  /** Caddy logs JSON lines; its errors surface as warnings of the agent, the rest only at debug. */
  private onLine(line: string): void {
    this.pushTail(line);
    let level = 'info';
    try {
      level = String((JSON.parse(line) as { level?: unknown }).level ?? 'info');
    } catch {
      // Plain text line.
    }
    if (level === 'error' || level === 'fatal' || level === 'panic') this.opts.log.warn({ caddy: line }, 'Caddy reported an error');
    else this.opts.log.debug({ caddy: line }, 'caddy');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // The restart loop handles children that die while it runs; it checks again when it ends.
    const expected = () => this.child !== child || this.stopping || !this.supervising || this.restarting;
    if (expected()) return;
    const livedMs = Date.now() - this.startedAt;
    setTimeout(() => {
      if (!expected()) this.onCrash(code, signal, livedMs);
    }, EXIT_SETTLE_MS);
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null, livedMs: number): void {
    this.opts.log.error({ code, signal, livedMs, output: this.outputTail().split('\n').slice(-5).join('\n') }, 'Caddy exited unexpectedly; restarting it');
    void this.restartLoop(livedMs);
  }

  private async restartLoop(livedMs: number): Promise<void> {
    this.restarting = true;
    try {
      await this.restartUntilUp(livedMs);
    } finally {
      this.restarting = false;
    }
    // Died again while the loop was re-applying the config: start over.
    if (!this.stopping && this.supervising && !this.running && this.quickFailures <= (this.opts.maxQuickFailures ?? 10)) {
      void this.restartLoop(Date.now() - this.startedAt);
    }
  }

  private async restartUntilUp(livedMs: number): Promise<void> {
    if (livedMs >= (this.opts.stableAfterMs ?? 30_000)) {
      this.backoff.reset();
      this.quickFailures = 0;
    }
    const max = this.opts.maxQuickFailures ?? 10;
    // Bounded: a Caddy that dies right after every start is given up on, and the agent stops with the reason.
    while (!this.stopping) {
      this.quickFailures++;
      if (this.quickFailures > max) {
        const reason = `Caddy exited ${max} times in a row shortly after starting; giving up. Last output:\n${this.outputTail()}`;
        this.opts.log.fatal(reason);
        this.supervising = false;
        this.opts.onGiveUp(reason);
        return;
      }
      const sleep = cancellableSleep(this.backoff.next());
      this.restartSleep = sleep;
      if (!(await sleep.promise) || this.stopping) return;
      try {
        await this.spawnAndWait();
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err) }, 'Caddy restart failed');
        continue;
      }
      this.restarts++;
      this.opts.log.warn({ pid: this.pid, restarts: this.restarts }, 'Caddy restarted');
      try {
        await this.opts.onStarted(true);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err) }, 're-applying the config after the Caddy restart failed');
      }
      return;
    }
  }
}
