/**
 * An agent of a real fleet for end-to-end tests (see ./fleet.ts): a real `node bin/caddyfleet.mjs agent …` child
 * process with its own managed Caddy (/usr/bin/caddy) listening on its own loopback address 127.0.0.N.
 *
 *   const a = await FleetAgent.enroll(ctl, { ip: '127.0.0.2', name: 'node-a' });
 *   await a.waitServes('x.test', (r) => r.status === 404, 'x.test dead');
 *   await a.stop(); await a.start();                            // same state dir and ports
 *   afterAll: await a.dispose();
 *
 * Processes are stopped by the PID we started; a managed Caddy that outlived its agent is killed by its PID after
 * checking that its command line belongs to that agent's state dir.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalApiClient, type AgentStatusSnapshot } from '../../apps/agent/src/index';
import type { FleetController } from './fleet-controller';
import { httpGet, type HttpReply } from './http-probe';
import { freePort, pidAlive, requireBinary, spawnLogged, tempDir, waitFor, type ExitInfo, type LoggedProcess, type TempDir } from './processes';

export const CADDY_BIN = '/usr/bin/caddy';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_BIN = join(ROOT, 'bin', 'caddyfleet.mjs');

/** True when /usr/bin/caddy exists; false (with a message) locally when it does not; throws under CI=true. */
export function requireCaddy(): boolean {
  return requireBinary(CADDY_BIN, 'caddy');
}

export interface FleetAgentOptions {
  /** Loopback address the agent's Caddy listens on, e.g. 127.0.0.2. */
  ip: string;
  name: string;
  /** Controller URL given with --controller; defaults to the controller's own (set a proxy's URL here). */
  controllerUrl?: string;
  /** --drift-check-seconds (default 0: off, so tests see only the changes they make). */
  driftCheckSeconds?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** --log-level of the agent process (default info: its output tail is shown when a test fails). */
  logLevel?: string;
  /** Passed as the agent's environment on top of a copy of ours without CADDYFLEET_*. */
  env?: Record<string, string>;
  /** Caddy the agent manages (default Debian's, CADDY_BIN); e.g. the layer4 build from ./caddy-bins.ts. */
  caddyBin?: string;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Free TCP port on `ip`, different from `not`. */
async function freePortOn(ip: string, not: number[] = []): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort(ip);
    if (!not.includes(p)) return p;
  }
  throw new Error(`no free port on ${ip}`);
}

/**
 * One agent process (`node bin/caddyfleet.mjs agent …`) with its managed Caddy. Its state dir and listen
 * ports stay the same across stop()/start(), like a service restarted on its host.
 */
export class FleetAgent {
  proc: LoggedProcess | null = null;
  nodeId = '';
  controllerUrl: string;
  /** Output of earlier runs of this agent (each stop()/start() starts a new process). */
  private pastOutput = '';
  /** Every Caddy PID seen, for the safety net in dispose(). */
  private readonly caddyPids = new Set<number>();

  private constructor(
    readonly ctl: FleetController,
    readonly opts: FleetAgentOptions,
    readonly dir: TempDir,
    readonly httpPort: number,
    readonly httpsPort: number,
  ) {
    this.controllerUrl = opts.controllerUrl ?? ctl.url;
  }

  /** Creates an enrollment token through the API and starts an agent that enrolls with it. */
  static async enroll(ctl: FleetController, opts: FleetAgentOptions): Promise<FleetAgent> {
    if (!/^127(?:\.\d{1,3}){3}$/.test(opts.ip)) throw new Error(`agent ip ${opts.ip} is not a loopback address`);
    const dir = await tempDir('cf-fleet-agent-');
    const httpPort = await freePortOn(opts.ip);
    const httpsPort = await freePortOn(opts.ip, [httpPort]);
    const agent = new FleetAgent(ctl, opts, dir, httpPort, httpsPort);
    try {
      await agent.start({ token: await ctl.enrollmentToken() });
    } catch (err) {
      await agent.dispose();
      throw err;
    }
    return agent;
  }

  get ip(): string {
    return this.opts.ip;
  }

  get name(): string {
    return this.opts.name;
  }

  get stateDir(): string {
    return join(this.dir.path, 'state');
  }

  get pid(): number | null {
    return this.proc && !this.proc.exitInfo() ? this.proc.pid : null;
  }

  get running(): boolean {
    return this.pid !== null;
  }

  /** Output of this and earlier runs (bounded ring buffers). */
  output(): string {
    return this.pastOutput + (this.proc?.output() ?? '');
  }

  describe(): string {
    return this.proc?.describe() ?? `${this.name}: not started`;
  }

  /**
   * Spawns the agent and waits until it runs (enrolled, Caddy started, last config restored: it prints
   * "caddyfleet agent running as node …"). `token` only for the first run.
   */
  async start(opts: { token?: string; timeoutMs?: number } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    if (this.proc) this.pastOutput += this.proc.output();
    const o = this.opts;
    const args = [
      CLI_BIN,
      'agent',
      '--controller', this.controllerUrl,
      '--state-dir', this.stateDir,
      '--caddy-bin', o.caddyBin ?? CADDY_BIN,
      '--http-listen', `${o.ip}:${this.httpPort}`,
      '--https-listen', `${o.ip}:${this.httpsPort}`,
      '--name', o.name,
      '--reconnect-min-ms', String(o.reconnectMinMs ?? 200),
      '--reconnect-max-ms', String(o.reconnectMaxMs ?? 2000),
      '--drift-check-seconds', String(o.driftCheckSeconds ?? 0),
      '--log-level', o.logLevel ?? 'info',
      ...(opts.token ? ['--token', opts.token] : []),
    ];
    const proc = spawnLogged(process.execPath, args, { name: `agent ${o.name}`, cwd: ROOT, env: cleanEnv(o.env), maxBufferBytes: 256 * 1024 });
    this.proc = proc;
    const running = /caddyfleet agent running as node (\S+)/;
    await proc.waitForOutput(running, opts.timeoutMs ?? 30_000);
    const nodeId = running.exec(proc.output())![1]!;
    if (this.nodeId && this.nodeId !== nodeId) throw new Error(`${this.name} came back as node ${nodeId}, was ${this.nodeId}`);
    this.nodeId = nodeId;
    // The local API answers and the Caddy PID is recorded for cleanup, unless the agent already gave up.
    const ready = await waitFor(async () => (proc.exitInfo() ? 'exited' : (await this.status()).caddy.pid ? 'ready' : null), {
      timeoutMs: 10_000,
      description: `${this.name}: local API status with a Caddy PID`,
    });
    if (ready === 'exited') throw new Error(`${this.name} exited right after starting\n${proc.describe()}`);
  }

  /** SIGTERM by PID (SIGKILL after `timeoutMs`), waits for the exit. Its managed Caddy stops with it. */
  async stop(timeoutMs = 10_000): Promise<ExitInfo | undefined> {
    const info = await this.proc?.stop(timeoutMs);
    return info;
  }

  /** Resolves with the exit info once the current process exited (rejects after `timeoutMs`). */
  async waitExit(timeoutMs = 15_000): Promise<ExitInfo> {
    const proc = this.proc;
    if (!proc) throw new Error(`${this.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        proc.exited,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${proc.describe()}`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET /status of the agent's local API (unix socket in its state dir). */
  async status(): Promise<AgentStatusSnapshot> {
    const s = await LocalApiClient.forStateDir(this.stateDir, 3000).status();
    if (s.caddy.pid) this.caddyPids.add(s.caddy.pid);
    return s;
  }

  /** PID of the managed Caddy, from the agent's status (waits until there is one). */
  async caddyPid(timeoutMs = 10_000): Promise<number> {
    return waitFor(async () => (await this.status()).caddy.pid, { timeoutMs, description: `${this.name}: Caddy PID in the agent status` });
  }

  /** GET through this agent's Caddy: http://<ip>:<httpPort><path> with Host `host`. */
  get(host: string, path = '/', timeoutMs = 3000): Promise<HttpReply> {
    return httpGet(this.ip, this.httpPort, host, path, timeoutMs);
  }

  /** Like get(), but null when nothing answers (connection refused, timeout). */
  async tryGet(host: string, path = '/', timeoutMs = 3000): Promise<HttpReply | null> {
    try {
      return await this.get(host, path, timeoutMs);
    } catch {
      return null;
    }
  }

  /** Polls until this agent's Caddy answers `host` with `pred` true; returns that reply. */
  waitServes(host: string, pred: (r: HttpReply) => boolean, description: string, timeoutMs = 15_000, path = '/'): Promise<HttpReply> {
    let last: HttpReply | null = null;
    return waitFor(
      async () => {
        last = await this.tryGet(host, path, 2000);
        return last && pred(last) ? last : null;
      },
      { timeoutMs, intervalMs: 100, description: `${this.name} (${this.ip}:${this.httpPort}) ${description}` },
    ).catch((err: Error) => {
      const l = last as HttpReply | null;
      throw new Error(`${err.message}; last answer: ${l ? `${l.status} ${l.body.slice(0, 200)}` : 'none'}\n${this.describe()}`);
    });
  }

  /** Stops the agent and removes its state dir; kills (by PID) a Caddy of this agent that is still running. */
  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    try {
      // A Caddy restarted after the last status() call is only known from the agent's pid file.
      this.caddyPids.add(Number(readFileSync(join(this.stateDir, 'caddy', 'caddy.pid'), 'utf8').trim()));
    } catch {
      /* no pid file: the agent stopped its Caddy */
    }
    for (const pid of this.caddyPids) {
      if (!Number.isInteger(pid) || pid <= 1) continue;
      if (!pidAlive(pid)) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (!cmdline.includes(this.stateDir)) continue; // PID reused by something else
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await this.dir.cleanup();
  }
}
