/**
 * One SSH login for one provisioning job (ssh2): checks the host key, finds out how to become root (already
 * root, passwordless sudo, or sudo with the login password), runs bash scripts sent on stdin (so nothing secret
 * is ever in a process's argv) with their output streamed line by line, and uploads files over SFTP.
 */
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { SshCredentials } from '@caddyfleet/protocol';
import { LineSplitter } from './line-splitter';

/** Why a login failed, in words a user can act on; `kind` lets the job runner name the cause. */
export class SshError extends Error {
  constructor(
    readonly kind: 'auth' | 'host_key' | 'connect' | 'sudo' | 'key_format',
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** OpenSSH-style fingerprint (`SHA256:` + unpadded base64 of the key blob), as `ssh-keygen -lf` prints it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export type Privilege = 'root' | 'sudo-nopasswd' | 'sudo-password';

export interface RunOptions {
  /** Run as the login user instead of root (default false: as root). */
  asUser?: boolean;
  /** Kills the channel and fails after this long. */
  timeoutMs?: number;
  onLine?: (line: string) => void;
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  /** The last lines of output (stdout and stderr merged), for error messages. */
  tail: string[];
  /** All stdout lines (scripts that report values print them). */
  stdout: string[];
}

const TAIL_LINES = 30;
const DEFAULT_RUN_TIMEOUT_MS = 10 * 60_000;

/** Runs a script given on stdin, so neither the script nor anything it carries shows up in `ps`. */
const RUN_STDIN_SCRIPT = `bash -c 'eval "$(cat)"'`;

function describeConnectError(err: Error & { level?: string; code?: string }, where: string, creds: SshCredentials): SshError {
  const msg = err.message;
  if (err.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
    const what = creds.privateKey && creds.password ? 'the key and the password were' : creds.privateKey ? 'the key was' : 'the password was';
    return new SshError('auth', `SSH authentication failed for ${where}: ${what} rejected`);
  }
  if (/privateKey|passphrase|parse/i.test(msg)) return new SshError('key_format', `cannot use the private key: ${msg}`);
  if (err.code === 'ECONNREFUSED') return new SshError('connect', `cannot connect to ${where}: connection refused (is sshd listening on that port?)`);
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return new SshError('connect', `cannot connect to ${where}: host unreachable`);
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new SshError('connect', `cannot connect to ${where}: unknown host name`);
  if (/timed out/i.test(msg)) return new SshError('connect', `cannot connect to ${where}: no SSH handshake within the time limit (${msg})`);
  return new SshError('connect', `cannot connect to ${where}: ${msg}`);
}

export interface ConnectOptions {
  /** When set, any other host key fails the login. */
  expectedHostKey: string | null;
  /** Named in the mismatch message (where the expected key came from). */
  expectedFrom?: string;
  readyTimeoutMs?: number;
}

export class SshSession {
  privilege: Privilege = 'root';

  private constructor(
    private readonly client: Client,
    readonly creds: SshCredentials,
    readonly hostKeySha256: string,
  ) {}

  get where(): string {
    return `${this.creds.user}@${this.creds.host}:${this.creds.port}`;
  }

  static connect(creds: SshCredentials, opts: ConnectOptions): Promise<SshSession> {
    const where = `${creds.user}@${creds.host}:${creds.port}`;
    return new Promise((resolve, reject) => {
      const client = new Client();
      let seen = '';
      let mismatch: SshError | undefined;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(mismatch ?? (err instanceof SshError ? err : describeConnectError(err, where, creds)));
      };
      client.once('ready', () => {
        settled = true;
        client.removeListener('error', fail);
        // Later errors end the connection; the command that was running reports it.
        client.on('error', () => {});
        resolve(new SshSession(client, creds, seen));
      });
      client.once('error', fail);
      client.once('close', () => fail(new SshError('connect', `${where}: the connection closed before the login completed`)));
      client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
        // PAM password prompts: answer each with the password (nothing else is ever asked of us here).
        finish(prompts.map(() => creds.password ?? ''));
      });
      const config: ConnectConfig = {
        host: creds.host,
        port: creds.port,
        username: creds.user,
        readyTimeout: opts.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        tryKeyboard: creds.password !== undefined,
        hostVerifier: (key: Buffer) => {
          seen = hostKeyFingerprint(key);
          if (opts.expectedHostKey === null || opts.expectedHostKey === seen) return true;
          mismatch = new SshError(
            'host_key',
            `host key mismatch: ${creds.host}:${creds.port} presented ${seen}, but ${opts.expectedFrom ?? 'the expected key'} is ${opts.expectedHostKey}. ` +
              'Nothing was sent to the host. If it was reinstalled, check the new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass it as hostKeySha256.',
          );
          return false;
        },
      };
      if (creds.password !== undefined) config.password = creds.password;
      if (creds.privateKey !== undefined) config.privateKey = creds.privateKey;
      if (creds.passphrase !== undefined) config.passphrase = creds.passphrase;
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 parses the private key synchronously.
        fail(err as Error);
      }
    });
  }

  /**
   * Works out how this login becomes root. A sudo that wants a password is tried once with the login password
   * on its own, so that a wrong one fails here instead of eating the next script's lines as further attempts.
   */
  async detectPrivilege(): Promise<Privilege> {
    if (this.creds.user === 'root') return (this.privilege = 'root');
    const id = await this.exec('id -u', '');
    if (id.stdout[0]?.trim() === '0') return (this.privilege = 'root');
    const hasSudo = await this.exec('command -v sudo', '');
    if (hasSudo.code !== 0) throw new SshError('sudo', `${this.creds.user} is not root and sudo is not installed: log in as root, or install sudo and add ${this.creds.user} to the sudo group`);
    const nopasswd = await this.exec('sudo -n true', '');
    if (nopasswd.code === 0) return (this.privilege = 'sudo-nopasswd');
    if (this.creds.password === undefined) {
      throw new SshError('sudo', `sudo asks ${this.creds.user} for a password: give the password too (it is used for sudo), or log in as root`);
    }
    const withPassword = await this.exec(`sudo -S -k -p '' true`, `${this.creds.password}\n`);
    if (withPassword.code !== 0) {
      throw new SshError('sudo', `sudo refused ${this.creds.user}: ${withPassword.tail.filter((l) => l.trim()).slice(-1)[0] ?? 'not allowed'} (is ${this.creds.user} in the sudo group, and is the password right?)`);
    }
    return (this.privilege = 'sudo-password');
  }

  /** Runs a bash script (as root unless `asUser`); output lines go to `onLine` as they arrive. */
  run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    if (opts.asUser || this.privilege === 'root') return this.exec(RUN_STDIN_SCRIPT, script, opts);
    if (this.privilege === 'sudo-nopasswd') return this.exec(`sudo -n ${RUN_STDIN_SCRIPT}`, script, opts);
    // -k: always ask, so the password line is always consumed by sudo and never reaches the script.
    return this.exec(`sudo -S -k -p '' ${RUN_STDIN_SCRIPT}`, `${this.creds.password}\n${script}`, opts);
  }

  private exec(command: string, stdin: string, opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, channel: ClientChannel) => {
        if (err) return reject(new SshError('connect', `${this.where}: cannot start a command: ${err.message}`));
        const tail: string[] = [];
        const stdout: string[] = [];
        const emit = (line: string, isStdout: boolean) => {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          if (isStdout) stdout.push(line);
          opts.onLine?.(line);
        };
        const out = new LineSplitter((l) => emit(l, true));
        const errOut = new LineSplitter((l) => emit(l, false));
        let code: number | null = null;
        let signal: string | null = null;
        const timer = setTimeout(() => {
          channel.close();
          reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        channel.on('data', (c: Buffer) => out.push(c));
        channel.stderr.on('data', (c: Buffer) => errOut.push(c));
        channel.on('exit', (c: number | null, sig?: string) => {
          code = typeof c === 'number' ? c : null;
          signal = sig ?? null;
        });
        channel.on('close', () => {
          clearTimeout(timer);
          out.end();
          errOut.end();
          resolve({ code, signal, tail, stdout });
        });
        channel.end(stdin);
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  }

  /** Copies a local file to `remotePath` (written as the login user) with `mode`; `onProgress` gets fractions. */
  async uploadFile(localPath: string, remotePath: string, mode: number, onProgress?: (done: number, total: number) => void): Promise<void> {
    const sftp = await this.sftp();
    try {
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(localPath, remotePath, { mode, concurrency: 16, chunkSize: 64 * 1024, step: (done, _chunk, total) => onProgress?.(done, total) }, (e) =>
          e ? reject(e) : resolve(),
        ),
      );
    } finally {
      sftp.end();
    }
  }

  close(): void {
    this.client.end();
  }
}
