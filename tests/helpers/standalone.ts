/**
 * A real `caddyfleet standalone` process (controller + local node with its managed Caddy) for end-to-end tests,
 * restartable on the same ports and data dir, with an API token for `/api/v1`.
 *
 *   const s = await Standalone.start({ ip: '127.0.0.41', args: ['--docker-host', d.host] });
 *   await s.waitServes('a.test', (r) => r.status === 200, 'a.test');
 *   await s.stop(); await s.start();
 *   afterAll: await s.dispose();
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_BIN } from './fleet-agent';
import { httpGet, type HttpReply } from './http-probe';
import { freePort, pidAlive, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './processes';

export const STANDALONE_ADMIN_PASSWORD = 'standalone-test-password';
const PASSWORD = STANDALONE_ADMIN_PASSWORD;
const ROOT = join(CLI_BIN, '..', '..');

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
  return { ...env, NO_COLOR: '1', CADDYFLEET_ADMIN_PASSWORD: PASSWORD, CADDYFLEET_LOG_LEVEL: 'info', ...extra };
}

export class Standalone {
  proc: LoggedProcess | null = null;
  private token = '';
  private pastOutput = '';

  private constructor(
    readonly dir: TempDir,
    readonly ip: string,
    readonly port: number,
    readonly httpPort: number,
    readonly httpsPort: number,
    readonly extraArgs: string[],
    readonly env: Record<string, string>,
  ) {}

  static async start(opts: { ip: string; args?: string[]; env?: Record<string, string> }): Promise<Standalone> {
    if (!/^127(?:\.\d{1,3}){3}$/.test(opts.ip)) throw new Error(`standalone ip ${opts.ip} is not a loopback address`);
    const dir = await tempDir('cf-standalone-');
    const s = new Standalone(dir, opts.ip, await freePort('127.0.0.1'), await freePort(opts.ip), await freePort(opts.ip), opts.args ?? [], opts.env ?? {});
    try {
      await s.start();
    } catch (err) {
      await s.dispose();
      throw err;
    }
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.pastOutput + (this.proc?.output() ?? '');
  }

  async start(): Promise<void> {
    if (this.proc && !this.proc.exitInfo()) throw new Error('standalone is already running');
    if (this.proc) this.pastOutput += this.proc.output();
    const args = [
      CLI_BIN, 'standalone',
      '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', join(this.dir.path, 'data'),
      '--http-listen', `${this.ip}:${this.httpPort}`,
      '--https-listen', `${this.ip}:${this.httpsPort}`,
      ...this.extraArgs,
    ];
    const proc = spawnLogged(process.execPath, args, { name: 'caddyfleet-standalone', cwd: ROOT, env: cleanEnv(this.env), maxBufferBytes: 256 * 1024 });
    this.proc = proc;
    await proc.waitForOutput('caddyfleet local node:', 30_000);
    if (!this.token) {
      const login = await fetch(`${this.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
        signal: AbortSignal.timeout(10_000),
      });
      if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
      const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
      const tok = await fetch(`${this.url}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'standalone-tests' }),
        signal: AbortSignal.timeout(10_000),
      });
      this.token = ((await tok.json()) as { token: string }).token;
    }
  }

  /** SIGTERM by PID; its local node stops its Caddy. */
  async stop(): Promise<void> {
    await this.proc?.stop(15_000);
  }

  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  get(host: string, path = '/', timeoutMs = 2000): Promise<HttpReply> {
    return httpGet(this.ip, this.httpPort, host, path, timeoutMs);
  }

  waitServes(host: string, pred: (r: HttpReply) => boolean, description: string, timeoutMs = 15_000): Promise<HttpReply> {
    let last: HttpReply | null = null;
    return waitFor(
      async () => {
        last = await this.get(host).catch(() => null);
        return last && pred(last) ? last : null;
      },
      { timeoutMs, intervalMs: 100, description: `standalone ${description}` },
    ).catch((err: Error) => {
      const l = last as HttpReply | null;
      throw new Error(`${err.message}; last answer: ${l ? `${l.status} ${l.body.slice(0, 200)}` : 'none'}\n${this.proc?.describe() ?? ''}`);
    });
  }

  async dispose(): Promise<void> {
    await this.stop().catch(() => {});
    // A managed Caddy that outlived its process, found by its pid file and checked by its command line.
    const caddyDir = join(this.dir.path, 'data', 'local-agent', 'caddy');
    try {
      const pid = Number(readFileSync(join(caddyDir, 'caddy.pid'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1 && pidAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(caddyDir)) process.kill(pid, 'SIGKILL');
    } catch {
      /* no pid file or process: nothing left */
    }
    await this.dir.cleanup();
  }
}
