/**
 * A real Debian bookworm "second host" for tests: systemd as PID 1 in systemd-nspawn, sshd, no Node.js, reached
 * only over its own veth link (host 10.200.N.1/24, target 10.200.N.2/24, no default route inside).
 *
 *   const hasTarget = requireTargetHostSupport();           // skip locally, throw under CI=true
 *   describe.skipIf(!hasTarget)('…', () => {
 *     let t: TargetHost;
 *     beforeAll(async () => { t = await startTargetHost({ rootPassword: 'pw-123456789' }); });
 *     afterAll(async () => { await t?.stop(); });
 *     it('…', async () => { expect((await t.exec('systemctl is-active ssh')).stdout.trim()).toBe('active'); });
 *   });
 *
 * Every target is an overlayfs over the cached base image of scripts/build-test-image.sh (which also holds the .debs
 * of caddy, ufw, fail2ban, python3-systemd and unattended-upgrades, so `apt-get install` works offline inside). Each
 * boot gets fresh SSH host keys and a fresh ed25519 client key for root. Slots (N = 40..99) are claimed by creating
 * the veth `cfth<N>`, so parallel files and worktrees never collide; see ./target-host-system.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from 'ssh2';
import { findBinary, isCI, sleep, spawnLogged, type LoggedProcess } from './processes';
import { prepareRoot, readHostKeys } from './target-host-root';
import { claimSlot, mountsUnder, recordNspawnPid, releaseSlot, run, runOk, teardownSync, type Slot } from './target-host-system';
import {
  sftpOf,
  sftpRead,
  sftpWrite,
  sshConnect,
  sshExec,
  type ExecOptions,
  type ExecResult,
} from './target-host-ssh';

export { sshFingerprint, sshConnect, type ExecOptions, type ExecResult } from './target-host-ssh';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD_IMAGE_SCRIPT = join(ROOT, 'scripts', 'build-test-image.sh');
const IMAGE_MARKER = '.caddyfleet-image';
const REQUIRED_BINARIES: [string, string][] = [
  ['mmdebstrap', 'mmdebstrap'],
  ['systemd-nspawn', 'systemd-container'],
  ['unshare', 'util-linux'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
];

export interface TargetUser {
  name: string;
  password: string;
  /** Member of the `sudo` group (sudo asks for the password). */
  sudo?: boolean;
}

export type TargetFile = string | Buffer | { content: string | Buffer; mode?: number };

export interface TargetHostOptions {
  /** Sets root's password (root's key login works either way). */
  rootPassword?: string;
  /** Extra users with a home, bash and a password. */
  users?: TargetUser[];
  /** Absolute path inside the target → content, written before boot (replacing a symlink such as /etc/os-release). */
  files?: Record<string, TargetFile>;
  /** Bound for boot until SSH answers (default 60 s). */
  bootTimeoutMs?: number;
  /** Base image directory (default: CADDYFLEET_TEST_IMAGE, else the path scripts/build-test-image.sh builds). */
  image?: string;
}

export interface TargetHost {
  /** The target's address on the test link, 10.200.N.2. */
  readonly address: string;
  /** The host's address on the same link, 10.200.N.1: what the target reaches the host (controller) on. */
  readonly hostAddress: string;
  readonly subnet: string;
  readonly sshPort: number;
  /** Root's client key, OpenSSH PEM format, and the same key as a file (0600) for CLI tests (`--identity`). */
  readonly privateKey: string;
  readonly privateKeyPath: string;
  readonly publicKey: string;
  /** `SHA256:…` of the ed25519 host key (the one ssh2 and OpenSSH negotiate by default). */
  readonly hostKeySha256: string;
  /** Fingerprints of every host key, by key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa). */
  readonly hostKeys: Readonly<Record<string, string>>;
  /** The overlay's merged root on the host (diagnostics; prefer exec/getFile to look inside). */
  readonly rootDir: string;
  /** Milliseconds from starting systemd-nspawn until SSH answered. */
  readonly bootMs: number;
  /** Runs a shell command as root over SSH (key login, host key checked). */
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Runs a command over a fresh SSH connection logged in with a password. */
  execAsUserPassword(user: string, password: string, cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file over SFTP: content (string/Buffer) or `{ localPath }`; mode default 0o644. */
  putFile(remotePath: string, source: string | Buffer | { localPath: string }, mode?: number): Promise<void>;
  getFile(remotePath: string): Promise<Buffer>;
  /** Replaces the SSH host keys and restarts sshd; returns the new ed25519 fingerprint (for host-key-change tests). */
  regenerateHostKeys(): Promise<string>;
  /** systemd-nspawn's status and output tail, for failure messages. */
  describe(): string;
  /** Powers the target off (SIGTERM to nspawn by PID, bounded, then SIGKILL), unmounts, deletes the veth and temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The cached image directory (it may not be built yet). */
export function targetImagePath(): string {
  const fromEnv = process.env.CADDYFLEET_TEST_IMAGE;
  if (fromEnv) return fromEnv;
  return execFileSync('bash', [BUILD_IMAGE_SCRIPT, '--path'], { encoding: 'utf8' }).trim().split('\n').pop()!;
}

/** Why targets cannot be booted here, or null when they can. */
export function targetHostUnsupportedReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (overlayfs, veth, systemd-nspawn)';
  for (const [bin, pkg] of REQUIRED_BINARIES) {
    if (findBinary(bin) === null) return `${bin} not found (apt-get install -y ${pkg})`;
  }
  let image: string;
  try {
    image = targetImagePath();
  } catch (err) {
    return `cannot compute the image path: ${(err as Error).message}`;
  }
  if (!existsSync(join(image, IMAGE_MARKER))) return `no target image at ${image} (run: bash scripts/build-test-image.sh)`;
  return null;
}

/**
 * True when targets can be booted. Otherwise: under CI=true throws (CI must not skip; .ci/run installs the
 * packages and builds the image), locally prints why and returns false so the test can skip.
 */
export function requireTargetHostSupport(): boolean {
  const reason = targetHostUnsupportedReason();
  if (reason === null) return true;
  if (isCI()) throw new Error(`target host unavailable: ${reason}. CI=true: refusing to skip.`);
  console.warn(`[skip] target host unavailable: ${reason}; skipping the tests that need it.`);
  return false;
}

interface Live {
  slot?: Slot;
  dir: string;
  nspawnPid?: number;
}
const live = new Set<Live>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that forgot stop() (or failed before it) must not leave a container, a mount or a veth behind.
  process.once('exit', () => {
    for (const l of live) {
      if (l.slot) teardownSync({ ownerPid: process.pid, dir: l.dir, nspawnPid: l.nspawnPid }, l.slot.hostIf, 3_000);
    }
  });
}

/** Boots one target and waits (bounded) until root can log in over SSH. */
export async function startTargetHost(opts: TargetHostOptions = {}): Promise<TargetHost> {
  const image = opts.image ?? targetImagePath();
  if (!existsSync(join(image, IMAGE_MARKER))) throw new Error(`no target image at ${image} (run: bash scripts/build-test-image.sh)`);
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'caddyfleet-target-'));
  const root = join(dir, 'root');
  const entry: Live = { dir };
  let nspawn: LoggedProcess | undefined;
  let client: Client | undefined;
  let connecting: Promise<Client> | undefined;

  const teardown = async () => {
    live.delete(entry);
    client?.end();
    if (nspawn) await nspawn.stop(15_000);
    for (const m of mountsUnder(dir)) {
      const r = await run('umount', [m]);
      if (r.code !== 0) await runOk('umount', ['-l', m]);
    }
    if (entry.slot) await releaseSlot(entry.slot);
    if (mountsUnder(dir).length === 0) await rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(['upper', 'work', 'root'].map((d) => mkdir(join(dir, d))));
    await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${dir}/upper,workdir=${dir}/work`, root]);
    const slot = await claimSlot(dir);
    entry.slot = slot;
    live.add(entry);
    const { privateKey, publicKey } = await prepareRoot(root, dir, slot, opts);
    let hostKeys = readHostKeys(root);

    const started = Date.now();
    nspawn = spawnLogged(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        // nspawn fails on "interface not initialized" without a read-only /sys (the host runs no udev).
        'mount -o remount,bind,ro /sys && exec "$@"',
        '-',
        'systemd-nspawn',
        '-D',
        root,
        '--boot',
        '--register=no',
        '--keep-unit',
        `--network-interface=${slot.targetIf}`,
        '--console=passive',
        '--resolv-conf=off',
      ],
      { name: `target ${slot.address}` },
    );
    entry.nspawnPid = nspawn.pid;
    recordNspawnPid(slot, dir, nspawn.pid);

    const login = () => ({ host: slot.address, port: 22, username: 'root', privateKey, hostKeySha256: hostKeys['ssh-ed25519'] });
    const bootTimeoutMs = opts.bootTimeoutMs ?? 60_000;
    const deadline = started + bootTimeoutMs;
    let lastError: unknown;
    for (let attempt = 0; attempt < 600 && !client; attempt++) {
      if (nspawn.exitInfo()) throw new Error(`the target exited while booting\n${nspawn.describe()}`);
      if (Date.now() > deadline) {
        throw new Error(`SSH on ${slot.address} did not answer within ${bootTimeoutMs}ms (${String(lastError)})\n${nspawn.describe()}`);
      }
      try {
        client = (await sshConnect({ ...login(), readyTimeoutMs: 3_000 })).client;
      } catch (err) {
        lastError = err;
        await sleep(150);
      }
    }
    if (!client) throw new Error(`SSH on ${slot.address} never answered: ${String(lastError)}`);
    const bootMs = Date.now() - started;
    const watch = (c: Client) => c.once('close', () => client === c && (client = undefined));
    watch(client);

    const connection = (): Promise<Client> => {
      if (client) return Promise.resolve(client);
      connecting ??= sshConnect(login())
        .then(({ client: c }) => {
          client = c;
          watch(c);
          return c;
        })
        .finally(() => (connecting = undefined));
      return connecting;
    };

    let stopping: Promise<void> | undefined;
    const proc = nspawn;
    return {
      address: slot.address,
      hostAddress: slot.hostAddress,
      subnet: slot.subnet,
      sshPort: 22,
      privateKey,
      privateKeyPath: join(dir, 'id_ed25519'),
      publicKey,
      get hostKeySha256() {
        return hostKeys['ssh-ed25519']!;
      },
      get hostKeys() {
        return hostKeys;
      },
      rootDir: root,
      bootMs,
      async exec(cmd, execOpts) {
        return sshExec(await connection(), cmd, execOpts);
      },
      async execAsUserPassword(user, password, cmd, execOpts) {
        // sshd (PAM) delays a failed password by ~2 s: leave room for it before the handshake bound.
        const { client: c } = await sshConnect({
          host: slot.address,
          port: 22,
          username: user,
          password,
          hostKeySha256: hostKeys['ssh-ed25519'],
          readyTimeoutMs: 20_000,
        });
        try {
          return await sshExec(c, cmd, execOpts);
        } finally {
          c.end();
        }
      },
      async putFile(remotePath, source, mode = 0o644) {
        const data = typeof source === 'string' || Buffer.isBuffer(source) ? Buffer.from(source) : await readFile(source.localPath);
        const sftp = await sftpOf(await connection());
        try {
          await sftpWrite(sftp, remotePath, data, mode);
        } finally {
          sftp.end();
        }
      },
      async getFile(remotePath) {
        const sftp = await sftpOf(await connection());
        try {
          return await sftpRead(sftp, remotePath);
        } finally {
          sftp.end();
        }
      },
      async regenerateHostKeys() {
        const r = await sshExec(await connection(), 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh');
        if (r.code !== 0) throw new Error(`regenerating host keys failed: ${r.stderr}`);
        client?.end();
        client = undefined;
        hostKeys = readHostKeys(root);
        return hostKeys['ssh-ed25519']!;
      },
      describe: () => proc.describe(),
      stop() {
        stopping ??= teardown();
        return stopping;
      },
    };
  } catch (err) {
    await teardown().catch(() => {
      /* the boot error is the one worth reporting */
    });
    throw err;
  }
}
