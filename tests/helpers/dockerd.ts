/**
 * A private Docker daemon for discovery tests, per ../shared/RECIPES.md ("Docker"): its own data root, exec
 * root and socket in a temp dir, no bridge, no iptables, no forwarding, no masquerading. Containers live on user
 * networks inside a 10.200.N.0/24 subnet reserved for this daemon (the host holds each network's gateway), publish
 * only on 127.0.0.X, and lose their default route right after they start. The image is busybox httpd imported
 * from local files (no registry); its root file system tar is cached between runs.
 *
 *   if (!requireDocker()) return;                           // throws under CI=true when something is missing
 *   const d = await PrivateDockerd.start();
 *   const c = await d.run({ name: 'web', labels: { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}' } });
 *   await d.stopContainer('web'); await d.startContainer('web'); await d.removeContainer('web');
 *   await d.restartDaemon();                                 // same data root; containers come back stopped
 *   afterAll: await d.dispose();                            // removes containers and networks, stops dockerd by PID
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { httpGet } from './http-probe';
import { freePort, isCI, requireBinary, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './processes';
import { allocateTestSubnet, type TestSubnet } from './test-subnet';

const run = promisify(execFile);

export const IMAGE = 'caddyfleet-test/busybox-httpd:1';
const BUSYBOX = '/bin/busybox';

/** dockerd, nsenter, ip and a static busybox are present (true); missing → false locally, throws under CI=true. */
export function requireDocker(): boolean {
  const ok =
    requireBinary('dockerd', 'docker.io') &&
    requireBinary('nsenter', 'util-linux') &&
    requireBinary('setpriv', 'util-linux') &&
    requireBinary('ip', 'iproute2') &&
    requireBinary('tar', 'tar');
  if (!ok) return false;
  if (process.getuid?.() !== 0) {
    const msg = 'the private dockerd needs root';
    if (isCI()) throw new Error(`${msg}. CI=true: refusing to skip.`);
    console.warn(`[skip] ${msg}; skipping the Docker tests.`);
    return false;
  }
  return true;
}

function isStatic(file: string): boolean {
  try {
    // `file` is not always installed; a static ELF simply has no PT_INTERP, which ldd reports like this.
    execFileSync('ldd', [file], { stdio: 'pipe' });
    return false;
  } catch (err) {
    return /not a dynamic executable/.test(String((err as { stderr?: Buffer }).stderr ?? ''));
  }
}

/** A static busybox: the busybox-static package's, else downloaded with `apt-get download busybox-static`. */
async function staticBusybox(cache: string): Promise<string> {
  if (existsSync(BUSYBOX) && isStatic(BUSYBOX)) return BUSYBOX;
  const extracted = join(cache, 'busybox-static', 'bin', 'busybox');
  if (existsSync(extracted)) return extracted;
  const dl = await tempDir('cf-busybox-');
  try {
    await run('apt-get', ['download', 'busybox-static'], { cwd: dl.path, timeout: 120_000 });
    const deb = execFileSync('sh', ['-c', 'ls *.deb'], { cwd: dl.path, encoding: 'utf8' }).trim().split('\n')[0]!;
    await run('dpkg-deb', ['-x', join(dl.path, deb), join(cache, 'busybox-static')], { timeout: 60_000 });
  } finally {
    await dl.cleanup();
  }
  if (!existsSync(extracted)) throw new Error('busybox-static: no bin/busybox in the downloaded package');
  return extracted;
}

/** The image's root file system as a tar (busybox + sh/httpd links), cached by busybox's checksum. */
async function imageTar(): Promise<string> {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'caddyfleet-tests');
  mkdirSync(cache, { recursive: true });
  const busybox = await staticBusybox(cache);
  const sum = createHash('sha256').update(readFileSync(busybox)).digest('hex').slice(0, 12);
  const tar = join(cache, `busybox-httpd-${sum}.tar`);
  if (existsSync(tar)) return tar;
  const root = await tempDir('cf-image-');
  try {
    mkdirSync(join(root.path, 'bin'));
    mkdirSync(join(root.path, 'www'));
    writeFileSync(join(root.path, 'bin', 'busybox'), readFileSync(busybox), { mode: 0o755 });
    for (const tool of ['sh', 'httpd', 'mkdir', 'cat', 'sleep']) execFileSync('ln', ['-s', 'busybox', join(root.path, 'bin', tool)]);
    const tmp = `${tar}.${process.pid}.tmp`;
    execFileSync('tar', ['-C', root.path, '-cf', tmp, '.']);
    renameSync(tmp, tar);
  } finally {
    await root.cleanup();
  }
  return tar;
}

export interface PublishSpec {
  /** Host address, 127.0.0.X. */
  ip: string;
  /** Host port (a free one on `ip` when omitted). */
  hostPort?: number;
  containerPort: number;
}

export interface RunSpec {
  name: string;
  labels?: Record<string, string>;
  /** Networks to attach, by name (default: the daemon's first network). */
  networks?: string[];
  publish?: PublishSpec[];
  /** Port httpd listens on inside the container (default 80). */
  port?: number;
  /** Body of GET / (default: the container name), so a test can tell which upstream answered. */
  text?: string;
}

export interface TestContainer {
  id: string;
  name: string;
  /** Address per network. */
  ips: Record<string, string>;
  /** Host port per published container port. */
  published: Record<number, number>;
}

export class PrivateDockerd {
  proc: LoggedProcess | null = null;
  readonly docker: Docker;
  /** Networks created here: name → subnet gateway/bridge. */
  readonly networks = new Map<string, { id: string; subnet: string; gateway: string }>();
  private readonly containers = new Map<string, TestContainer & { spec: RunSpec }>();

  private constructor(
    readonly dir: TempDir,
    readonly subnet: TestSubnet,
    readonly liveRestore: boolean,
  ) {
    this.docker = new Docker({ socketPath: this.socketPath });
  }

  /** `liveRestore`: containers keep running while the daemon is stopped (dockerd --live-restore). */
  static async start(opts: { liveRestore?: boolean } = {}): Promise<PrivateDockerd> {
    const subnet = allocateTestSubnet();
    let dir: TempDir;
    try {
      // Short path: containerd puts unix sockets under the exec root.
      dir = await tempDir('cfd-');
    } catch (err) {
      subnet.release();
      throw err;
    }
    const d = new PrivateDockerd(dir, subnet, opts.liveRestore ?? false);
    try {
      writeFileSync(join(dir.path, 'daemon.json'), '{}\n');
      await d.startDaemon();
      const tar = await imageTar();
      const stream = await d.docker.importImage(tar, { repo: IMAGE.split(':')[0], tag: IMAGE.split(':')[1] });
      await new Promise<void>((resolve, reject) => d.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
      await d.createNetwork('cfnet0', 0);
    } catch (err) {
      await d.dispose();
      throw err;
    }
    return d;
  }

  get socketPath(): string {
    return join(this.dir.path, 'docker.sock');
  }

  /** For --docker-host / DOCKER_HOST. */
  get host(): string {
    return `unix://${this.socketPath}`;
  }

  get pid(): number | null {
    return this.proc && !this.proc.exitInfo() ? this.proc.pid : null;
  }

  /** Starts dockerd (again, on the same data root) and waits until it answers. */
  async startDaemon(): Promise<void> {
    if (this.pid) throw new Error('dockerd is already running');
    const d = this.dir.path;
    rmSync(this.socketPath, { force: true });
    // setpriv execs dockerd with a parent-death signal: a test worker killed before its afterAll cannot leave
    // the daemon (and its bridges) behind.
    this.proc = spawnLogged(
      'setpriv',
      [
        '--pdeathsig', 'TERM', '--', 'dockerd',
        '--config-file', join(d, 'daemon.json'),
        '--bridge=none', '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--ip6tables=false',
        '--data-root', join(d, 'data'),
        '--exec-root', join(d, 'exec'),
        '--pidfile', join(d, 'docker.pid'),
        '--host', this.host,
        // Our httpd runs as PID 1 and ignores SIGTERM: do not wait 10 s per container at shutdown.
        '--shutdown-timeout', '1',
        '--log-level', 'warn',
        ...(this.liveRestore ? ['--live-restore'] : []),
      ],
      { name: 'dockerd', maxBufferBytes: 128 * 1024 },
    );
    await waitFor(async () => {
      if (this.proc?.exitInfo()) throw new Error(`dockerd exited\n${this.proc.describe()}`);
      return (await this.docker.ping().catch(() => null)) !== null;
    }, { timeoutMs: 30_000, intervalMs: 100, description: 'private dockerd answering' }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.proc?.describe() ?? ''}`);
    });
  }

  /** SIGTERM by PID; running containers die with it (no live-restore). */
  async stopDaemon(): Promise<void> {
    await this.proc?.stop(20_000);
  }

  async restartDaemon(): Promise<void> {
    await this.stopDaemon();
    await this.startDaemon();
  }

  /**
   * A user network on a /26 of this daemon's subnet (index 0-3); the host holds its gateway (.1 of the block),
   * so the host's Caddy can reach the containers on it.
   */
  async createNetwork(name: string, index: number): Promise<string> {
    if (index < 0 || index > 3) throw new Error('network index must be 0-3');
    const base = index * 64;
    const subnet = `${this.subnet.prefix}${base}/26`;
    const gateway = `${this.subnet.prefix}${base + 1}`;
    const net = await this.docker.createNetwork({ Name: name, Driver: 'bridge', IPAM: { Config: [{ Subnet: subnet, Gateway: gateway }] } });
    this.networks.set(name, { id: net.id, subnet, gateway });
    return name;
  }

  /** Creates and starts a busybox httpd container; returns its addresses and published ports. */
  async run(spec: RunSpec): Promise<TestContainer> {
    const networks = spec.networks ?? [this.networks.keys().next().value!];
    const port = spec.port ?? 80;
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    const exposed: Record<string, object> = {};
    for (const p of spec.publish ?? []) {
      if (!/^127(?:\.\d{1,3}){3}$/.test(p.ip)) throw new Error(`publish only on loopback addresses, not ${p.ip}`);
      const hostPort = p.hostPort ?? (await freePort(p.ip));
      (bindings[`${p.containerPort}/tcp`] ??= []).push({ HostIp: p.ip, HostPort: String(hostPort) });
      exposed[`${p.containerPort}/tcp`] = {};
    }
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: IMAGE,
      Labels: spec.labels ?? {},
      Env: [`CF_TEXT=${spec.text ?? spec.name}`],
      Cmd: ['/bin/sh', '-c', `mkdir -p /www && echo "$CF_TEXT" > /www/index.html && exec httpd -f -p ${port} -h /www`],
      ExposedPorts: exposed,
      // httpd as PID 1 ignores SIGTERM: without this every stop (and the daemon's shutdown) waits 10 s.
      StopSignal: 'SIGKILL',
      HostConfig: { NetworkMode: networks[0], PortBindings: bindings },
    });
    for (const extra of networks.slice(1)) await this.docker.getNetwork(extra).connect({ Container: container.id });
    const record = { id: container.id, name: spec.name, ips: {}, published: {}, spec };
    this.containers.set(spec.name, record);
    await this.startContainer(spec.name);
    return this.containers.get(spec.name)!;
  }

  /** Starts a stopped container, drops its default route, and refreshes its addresses and ports. */
  async startContainer(name: string): Promise<TestContainer> {
    await this.docker.getContainer(name).start();
    return this.started(name);
  }

  /** For a container started by other means (a timed `start()` call): drops its default route, reads its addresses. */
  async started(name: string): Promise<TestContainer> {
    const c = this.docker.getContainer(name);
    const info = await c.inspect();
    await this.dropDefaultRoute(info.State.Pid);
    const ips: Record<string, string> = {};
    for (const [net, ep] of Object.entries(info.NetworkSettings.Networks ?? {})) if (ep.IPAddress) ips[net] = ep.IPAddress;
    const published: Record<number, number> = {};
    for (const [key, binds] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const first = binds?.[0];
      if (first) published[Number(key.split('/')[0])] = Number(first.HostPort);
    }
    const record = this.containers.get(name);
    if (record) Object.assign(record, { ips, published });
    // Returned once httpd answers, so callers may talk to it at once (on our own subnet, whose gateway we hold).
    const ip = Object.values(ips)[0];
    if (ip) {
      const port = record?.spec.port ?? 80;
      await waitFor(() => httpGet(ip, port, 'ready', '/', 1000).then(() => true, () => false), {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: `container ${name} answering on ${ip}:${port}`,
      });
    }
    return record ?? { id: info.Id, name, ips, published };
  }

  /** Containers reach nothing but their own subnet. */
  private async dropDefaultRoute(pid: number): Promise<void> {
    if (!pid) throw new Error('container has no PID after start');
    try {
      await run('nsenter', ['-t', String(pid), '-n', 'ip', 'route', 'del', 'default'], { timeout: 10_000 });
    } catch (err) {
      // No default route (a network without gateway) is what we want anyway.
      if (!/No such process|Cannot find/.test(String((err as { stderr?: string }).stderr))) throw err;
    }
  }

  /** Stops (SIGKILL at once: httpd as PID 1 ignores SIGTERM) and waits until Docker reports it stopped. */
  async stopContainer(name: string): Promise<void> {
    await this.docker.getContainer(name).stop({ t: 0 });
  }

  async removeContainer(name: string): Promise<void> {
    await this.docker.getContainer(name).remove({ force: true });
    this.containers.delete(name);
  }

  container(name: string): TestContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
  }

  async dispose(): Promise<void> {
    if (this.pid) {
      const list = await this.docker.listContainers({ all: true }).catch(() => []);
      for (const c of list) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      for (const name of this.networks.keys()) await this.docker.getNetwork(name).remove().catch(() => {});
    }
    await this.stopDaemon().catch(() => {});
    // A daemon that died before removing its networks leaves their bridges (and our gateways) on the host.
    for (const { id } of this.networks.values()) {
      const bridge = `br-${id.slice(0, 12)}`;
      await run('ip', ['link', 'del', bridge]).catch(() => {});
    }
    this.networks.clear();
    // Overlay mounts of a daemon that died uncleanly would make the data root impossible to remove.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
    for (const m of mounts.filter((m) => m.startsWith(this.dir.path + '/')).reverse()) await run('umount', ['-l', m]).catch(() => {});
    await this.dir.cleanup().catch(() => {});
    this.subnet.release();
  }

  output(): string {
    return this.proc?.output() ?? '';
  }
}
