/**
 * The Caddy the agent starts itself (--caddy-bin). It boots with nothing but an admin endpoint on a unix socket
 * inside the state directory (no TCP admin port for anyone else to reach), in its own XDG home so certificates
 * live with the agent's state. If it dies, it is started again and the agent re-applies the last config.
 *
 * Caddy can outlive its agent (own process group, output to caddy.log): an agent stopped with detach()
 * (--keep-caddy) or killed leaves it serving, and the next agent adopts it instead of restarting it, so an
 * agent restart or upgrade costs no refused connection.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { Backoff, cancellableSleep } from './backoff';
import { spawnDetached, watchAdopted, type CaddyHandle, type ExitInfo } from './caddy-handle';
import { caddyLineLevel, LOG_MAX_BYTES, LogFollower, openLogForSpawn, readLogTail } from './caddy-log';
import { findOurProcess, runsBinary, stopProcess } from './caddy-pid';
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
  /** How often an adopted Caddy (not our child, so no exit event) is checked for liveness (default 500 ms). */
  adoptedPollMs?: number;
  /** caddy.log is rotated beyond this size (default 10 MiB). */
  logMaxBytes?: number;
}

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
  /** Caddy's stdout and stderr. */
  readonly logFile: string;
  restarts = 0;

  private proc: CaddyHandle | null = null;
  /** Where the current Caddy's output begins in caddy.log: error messages quote only that run. */
  private logOffset = 0;
  private readonly follower: LogFollower;
  private startedAt = 0;
  private stopping = false;
  /** Restarts begin only once the first start worked; a failed first start is the caller's error. */
  private supervising = false;
  private restarting = false;
  /** The reason of a planned restart asked for while a restart was under way, run once that one is done. */
  private restartAgain: string | null = null;
  private restartSleep: { cancel: () => void } | null = null;
  private quickFailures = 0;
  private readonly backoff: Backoff;

  constructor(private readonly opts: ManagedCaddyOptions) {
    this.socketPath = path.join(opts.dir, 'admin.sock');
    this.adminListen = `unix/${this.socketPath}`;
    this.admin = new CaddyAdmin(this.adminListen);
    this.bootstrapFile = path.join(opts.dir, 'bootstrap.json');
    this.pidFile = path.join(opts.dir, 'caddy.pid');
    this.storageDir = path.join(opts.dir, 'data', 'caddy');
    this.logFile = path.join(opts.dir, 'caddy.log');
    this.backoff = new Backoff(opts.restartMinMs ?? 500, opts.restartMaxMs ?? 30_000);
    this.follower = new LogFollower(this.logFile, (line) => this.onLine(line), opts.logMaxBytes ?? LOG_MAX_BYTES);
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  get running(): boolean {
    return this.proc?.alive ?? false;
  }

  /** The running Caddy was left by a previous agent and adopted, not started by this one. */
  get adopted(): boolean {
    return this.proc?.adopted ?? false;
  }

  /**
   * First start: adopts a Caddy of ours left running (see adoptLeftover) or starts one, then runs onStarted.
   * Throws (with Caddy's last output) if Caddy does not come up.
   */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.opts.dir, 'config'), { recursive: true, mode: 0o700 });
    await mkdir(path.join(this.opts.dir, 'data'), { recursive: true, mode: 0o700 });
    // Same content every time, so rewriting it under an adopted Caddy that runs it changes nothing.
    await writeFile(this.bootstrapFile, JSON.stringify({ admin: { listen: this.adminListen } }) + '\n', { mode: 0o600 });
    await this.follower.start();
    try {
      if (!(await this.adoptLeftover())) await this.spawnAndWait();
    } catch (err) {
      this.follower.stop();
      throw err;
    }
    this.supervising = true;
    await this.opts.onStarted(false);
  }

  /** The agent is stopping: an exit of Caddy from now on is expected and not restarted. */
  prepareStop(): void {
    this.stopping = true;
    this.restartSleep?.cancel();
  }

  /** Stops Caddy (gracefully first) and supervising it: the agent stops and takes its Caddy with it. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    this.restartSleep?.cancel();
    this.follower.stop();
    const hadCaddy = this.proc !== null;
    // A restart in flight may have spawned a new child meanwhile; bounded, it checks `stopping` before spawning.
    for (let i = 0; i < 3 && this.running; i++) await this.endProc(timeoutMs);
    // Without a Caddy of its own (a start that failed early) the pid file may be another agent's: left alone.
    if (!hadCaddy) return;
    await rm(this.pidFile, { force: true });
    this.opts.log.info('Caddy stopped');
  }

  /**
   * Stops supervising and leaves Caddy serving its last config, with its pid file, for the next agent to adopt
   * (--keep-caddy): an agent restart or upgrade then refuses no connection.
   */
  detach(): void {
    this.stopping = true;
    this.restartSleep?.cancel();
    this.follower.stop();
    const proc = this.proc;
    if (!proc) return;
    proc.release();
    if (proc.alive) this.opts.log.info({ pid: proc.pid }, 'leaving Caddy running for the next agent to adopt');
  }

  /**
   * A planned restart (not a crash): stops Caddy gracefully, starts it again and re-applies through onStarted.
   * Used after a /load that failed while starting listeners, which leaves servers of the refused config running
   * in Caddy (caddyserver/caddy#7175); only a new process is sure to serve exactly the applied config again.
   */
  async restart(reason: string): Promise<void> {
    if (this.stopping || !this.supervising) return;
    if (this.restarting) {
      // The refused /load may have reached the Caddy this restart has just started, before onStarted restored
      // its config (a sync is not held back meanwhile): that Caddy then holds the leaked servers. So it is
      // restarted too, once this restart is done; several such requests make one more restart.
      this.restartAgain = reason;
      return;
    }
    this.restarting = true;
    try {
      this.opts.log.warn({ reason }, 'restarting Caddy');
      await this.endProc(5000);
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
    else this.runRestartAgain();
  }

  /** Runs the planned restart asked for during the one (or the crash recovery) that just ended. */
  private runRestartAgain(): void {
    const reason = this.restartAgain;
    this.restartAgain = null;
    if (reason !== null && !this.stopping && this.supervising && this.running) void this.restart(reason);
  }

  /** Graceful first (Caddy finishes in-flight requests), then SIGTERM and SIGKILL by PID. */
  private async endProc(timeoutMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc || !proc.alive) return;
    try {
      await new CaddyAdmin(this.adminListen, { timeoutMs: 2000 }).stop();
    } catch {
      // Admin unreachable; fall through to signals.
    }
    if (await this.waitExit(proc, timeoutMs)) return;
    proc.signal('SIGTERM');
    if (await this.waitExit(proc, timeoutMs)) return;
    proc.signal('SIGKILL');
    await this.waitExit(proc, timeoutMs);
  }

  /** Caddy's last lines of output (of the current run), for error messages. */
  outputTail(lines = 40): Promise<string> {
    return readLogTail(this.logFile, this.logOffset, lines);
  }

  private async waitExit(proc: CaddyHandle, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      proc.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }

  /**
   * A Caddy left running by a previous agent (--keep-caddy, or an agent killed with SIGKILL) holds the ports.
   * When it is ours (runs our bootstrap file) and its admin API answers, it is adopted: it keeps serving, and
   * onStarted re-applies the config, which loads nothing when Caddy already runs it. One of ours that does not
   * answer is stopped. A foreign process that the pid file happens to name is never touched.
   */
  private async adoptLeftover(): Promise<boolean> {
    const found = await findOurProcess(this.pidFile, this.bootstrapFile);
    if (!found) return false;
    // Another binary (Caddy upgraded, or --caddy-bin changed) would not match the probed version and modules
    // the configs are rendered for: replaced, which is also what makes an upgraded Caddy take effect.
    if ((await runsBinary(found.pid, this.opts.bin)) === false) {
      this.opts.log.warn({ pid: found.pid, bin: this.opts.bin }, `a Caddy left running by a previous agent runs another binary than ${this.opts.bin}; replacing it`);
      await stopProcess(found);
      return false;
    }
    if (!(await new CaddyAdmin(this.adminListen, { timeoutMs: 3000 }).ping())) {
      this.opts.log.warn({ pid: found.pid }, 'a Caddy left running by a previous agent does not answer on its admin socket; stopping it');
      await stopProcess(found);
      return false;
    }
    const proc = watchAdopted(found, this.opts.adoptedPollMs ?? 500);
    this.track(proc, 0);
    this.opts.log.info({ pid: proc.pid, admin: this.adminListen }, 'adopted the Caddy left running by the previous agent; it keeps serving');
    return true;
  }

  private track(proc: CaddyHandle, logOffset: number): void {
    this.proc = proc;
    this.logOffset = logOffset;
    this.startedAt = Date.now();
    void proc.exited.then((info) => this.onExit(proc, info));
  }

  private async spawnAndWait(): Promise<void> {
    const dir = this.opts.dir;
    const log = await openLogForSpawn(this.logFile, this.opts.logMaxBytes ?? LOG_MAX_BYTES);
    let proc: CaddyHandle;
    try {
      proc = await spawnDetached({
        bin: this.opts.bin,
        args: ['run', '--config', this.bootstrapFile],
        outputFd: log.handle.fd,
        env: {
          ...process.env,
          // Keeps Caddy's autosave, certificates and local CA inside the state dir, not in the agent user's home.
          HOME: dir,
          XDG_CONFIG_HOME: path.join(dir, 'config'),
          XDG_DATA_HOME: path.join(dir, 'data'),
        },
      });
    } catch (err) {
      this.proc = null;
      throw new Error(`Caddy (${this.opts.bin}) could not be started: ${errorMessage(err)}`);
    } finally {
      // The child has its own copy of the descriptor.
      await log.handle.close();
    }
    this.track(proc, log.offset);
    await writeFile(this.pidFile, `${proc.pid}\n`, { mode: 0o600 }).catch(() => {});

    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 15_000);
    while (Date.now() < deadline && proc.alive) {
      if (await this.admin.ping()) {
        this.opts.log.info({ pid: proc.pid, admin: this.adminListen, log: this.logFile }, 'Caddy started');
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const why = proc.alive ? 'did not answer on its admin socket in time' : 'exited during start-up';
    if (proc.alive) proc.signal('SIGKILL');
    throw new Error(`Caddy (${this.opts.bin}) ${why}\n--- Caddy output (${this.logFile}) ---\n${(await this.outputTail()) || '(none)'}`);
  }

  /** Caddy's errors surface as warnings of the agent, the rest only at debug. */
  private onLine(line: string): void {
    const level = caddyLineLevel(line);
    if (level === 'error' || level === 'fatal' || level === 'panic') this.opts.log.warn({ caddy: line }, 'Caddy reported an error');
    else this.opts.log.debug({ caddy: line }, 'caddy');
  }

  private onExit(proc: CaddyHandle, info: ExitInfo | null): void {
    // The restart loop handles processes that die while it runs; it checks again when it ends.
    const expected = () => this.proc !== proc || this.stopping || !this.supervising || this.restarting;
    if (expected()) return;
    const livedMs = Date.now() - this.startedAt;
    setTimeout(() => {
      if (!expected()) this.onCrash(proc, info, livedMs);
    }, EXIT_SETTLE_MS);
  }

  private onCrash(proc: CaddyHandle, info: ExitInfo | null, livedMs: number): void {
    void this.outputTail(5).then((output) =>
      this.opts.log.error({ code: info?.code ?? null, signal: info?.signal ?? null, adopted: proc.adopted, livedMs, output }, 'Caddy exited unexpectedly; restarting it'),
    );
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
    } else {
      this.runRestartAgain();
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
        const reason = `Caddy exited ${max} times in a row shortly after starting; giving up. Last output:\n${await this.outputTail()}`;
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
