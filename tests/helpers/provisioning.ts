/**
 * For SSH provisioning tests: the controller as a real process (`caddyfleet server`) listening on the host side
 * of a target's link, with all of its output in a log file and its data in a temp dir (so a test can search
 * both for credentials), an API client, the CLI as users run it, and checks on the target.
 *
 *   const t = await startTargetHost({ rootPassword: PW });
 *   const ctl = await ControllerProcess.start(t.hostAddress);
 *   const { node } = await ctl.ok('POST', '/nodes/provision', { name: 'edge', siteId: ctl.siteId, ssh: {...} });
 *   const job = await ctl.waitJob(node.id);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FleetNode, ProvisionJob } from '@caddyfleet/protocol';
import { BIN, ROOT, cleanEnv, runCli as runCliWith, type CliResult } from './cli';
import { freePort, sleep, tempDir, waitFor, type TempDir } from './processes';

export { ROOT };
export const ADMIN_PASSWORD = 'provision-admin-password';

/** `node bin/caddyfleet.mjs …args` with `input` on stdin; killed by its PID after `timeoutMs` (provisioning takes a while). */
export function runCli(args: string[], env: Record<string, string>, input = '', timeoutMs = 240_000): Promise<CliResult> {
  return runCliWith(args, { env, input, timeoutMs });
}

export interface Reply<T = any> {
  status: number;
  body: T;
}

export class ControllerProcess {
  private token = '';
  siteId = '';

  private constructor(
    readonly dir: TempDir,
    readonly url: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  /** `caddyfleet server` on `host` (the host side of a target's link), no local node, output to a log file. */
  static async start(host: string, flags: string[] = []): Promise<ControllerProcess> {
    const dir = await tempDir('cf-prov-ctl-');
    const port = await freePort(host);
    const url = `http://${host}:${port}`;
    const logFile = join(dir.path, 'controller.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(
      process.execPath,
      [BIN, 'server', '--listen', `${host}:${port}`, '--data-dir', join(dir.path, 'data'), '--public-url', url, '--no-local-node', '--log-level', 'debug', '--heartbeat-seconds', '2', ...flags],
      { cwd: ROOT, env: cleanEnv({ CADDYFLEET_ADMIN_PASSWORD: ADMIN_PASSWORD }), stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    const ctl = new ControllerProcess(dir, url, child, logFile);
    try {
      await waitFor(() => ctl.log().includes('caddyfleet controller listening on') || (child.exitCode !== null && Promise.reject(new Error('exited'))), {
        timeoutMs: 30_000,
        description: 'controller listening',
      });
      const login = await fetch(`${url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
        signal: AbortSignal.timeout(10_000),
      });
      const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
      const tok = await fetch(`${url}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'provision-tests' }),
        signal: AbortSignal.timeout(10_000),
      });
      ctl.token = ((await tok.json()) as { token: string }).token;
      ctl.siteId = ((await ctl.ok<{ id: string }[]>('GET', '/sites'))[0]!).id;
    } catch (err) {
      await ctl.stop();
      throw new Error(`${(err as Error).message}\n--- controller log ---\n${ctl.log().slice(-4000)}`);
    }
    return ctl;
  }

  /** CADDYFLEET_URL and CADDYFLEET_TOKEN for the CLI. */
  get cliEnv(): Record<string, string> {
    return { CADDYFLEET_URL: this.url, CADDYFLEET_TOKEN: this.token };
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async api<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.api<T>(method, path, body);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  node(id: string): Promise<FleetNode> {
    return this.ok<FleetNode>('GET', `/nodes/${id}`);
  }

  /** Polls until the node's run is no longer running (bounded); returns it. */
  async waitJob(nodeId: string, timeoutMs = 240_000): Promise<ProvisionJob> {
    return waitFor(
      async () => {
        const job = await this.ok<ProvisionJob>('GET', `/nodes/${nodeId}/provisioning`);
        return job.status === 'running' ? null : job;
      },
      { timeoutMs, intervalMs: 500, description: `provisioning of ${nodeId} ends` },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) process.kill(child.pid, 'SIGKILL');
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    await this.dir.cleanup();
  }
}

/** Every file under `dir` (and the extra files) that contains any of `needles`, as `file: needle` lines. */
export function filesContaining(dir: string, needles: string[], extra: string[] = []): string[] {
  const hits: string[] = [];
  const visit = (path: string) => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
      return;
    }
    if (!st.isFile()) return;
    const data = readFileSync(path);
    for (const n of needles) if (data.includes(Buffer.from(n))) hits.push(`${path}: ${n.slice(0, 12)}…`);
  };
  visit(dir);
  for (const f of extra) visit(f);
  return hits;
}

/** Whether a TCP connection to host:port is accepted within `timeoutMs` ('open'), refused, or unanswered. */
export function tcpProbe(host: string, port: number, timeoutMs = 3000): Promise<'open' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (r: 'open' | 'refused' | 'timeout') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', () => done('refused'));
  });
}

/** The lines of a private key between its armour lines (what must never be found on the controller). */
export function keyBody(privateKey: string): string[] {
  return privateKey
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('-----'));
}
