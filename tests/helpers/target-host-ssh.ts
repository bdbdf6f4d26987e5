/**
 * ssh2 plumbing for ./target-host.ts: a connection that checks the host key, exec with exit code and output, SFTP.
 * Fingerprints use OpenSSH's format (`SHA256:` + unpadded base64 of the key blob), as `ssh-keygen -lf` prints them.
 */
import { createHash } from 'node:crypto';
import { Client, type SFTPWrapper } from 'ssh2';

export interface ExecOptions {
  /** Written to the command's stdin, then EOF (without it, stdin is closed at once). */
  stdin?: string | Buffer;
  /** Closes the channel and rejects after this long (default 120 s). */
  timeoutMs?: number;
}

export interface ExecResult {
  /** Exit status; null when the command died of a signal (see `signal`) or sent none. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface SshLogin {
  host: string;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  /** When set, a different host key fails the connection. */
  hostKeySha256?: string;
  /** Handshake bound (default 5 s). */
  readyTimeoutMs?: number;
}

/** OpenSSH-style SHA-256 fingerprint of a public key blob (the base64 part of a .pub line, decoded). */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses `TYPE BASE64 [comment]` (an OpenSSH .pub line) into its type and fingerprint. */
export function publicKeyLineFingerprint(line: string): { type: string; fingerprint: string } {
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !blob) throw new Error(`not an OpenSSH public key line: ${line.slice(0, 60)}`);
  return { type, fingerprint: sshFingerprint(Buffer.from(blob, 'base64')) };
}

/** Opens an SSH connection; resolves with the client and the fingerprint of the host key the server presented. */
export function sshConnect(login: SshLogin): Promise<{ client: Client; hostKeySha256: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen = '';
    let settled = false;
    let mismatch: Error | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(mismatch ?? err);
    };
    client.once('ready', () => {
      settled = true;
      client.removeListener('error', fail);
      client.on('error', () => {
        /* a later error closes the connection; callers see it as 'close' */
      });
      resolve({ client, hostKeySha256: seen });
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error(`ssh ${login.username}@${login.host}:${login.port}: closed before ready`)));
    client.connect({
      host: login.host,
      port: login.port,
      username: login.username,
      privateKey: login.privateKey,
      password: login.password,
      readyTimeout: login.readyTimeoutMs ?? 5_000,
      hostVerifier: (key: Buffer) => {
        seen = sshFingerprint(key);
        if (login.hostKeySha256 === undefined || login.hostKeySha256 === seen) return true;
        mismatch = new Error(`host key of ${login.host} is ${seen}, expected ${login.hostKeySha256}`);
        return false;
      },
    });
  });
}

/** Runs `cmd` through the login shell of the connected user. */
export function sshExec(client: Client, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    client.exec(cmd, (err, stream) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let code: number | null = null;
      let signal: string | undefined;
      const timer = setTimeout(() => {
        stream.close();
        reject(
          new Error(
            `ssh exec timed out after ${timeoutMs}ms: ${cmd}\n--- stdout ---\n${Buffer.concat(out).toString()}\n--- stderr ---\n${Buffer.concat(errOut).toString()}`,
          ),
        );
      }, timeoutMs);
      stream.on('data', (c: Buffer) => out.push(c));
      stream.stderr.on('data', (c: Buffer) => errOut.push(c));
      stream.on('exit', (c: number | null, sig?: string) => {
        code = typeof c === 'number' ? c : null;
        if (sig) signal = sig;
      });
      stream.on('close', () => {
        clearTimeout(timer);
        const result: ExecResult = { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() };
        if (signal) result.signal = signal;
        resolve(result);
      });
      stream.end(opts.stdin ?? '');
    });
  });
}

export function sftpOf(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

export function sftpWrite(sftp: SFTPWrapper, remotePath: string, data: Buffer, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.writeFile(remotePath, data, { mode }, (err) =>
      err ? reject(err) : sftp.chmod(remotePath, mode, (e) => (e ? reject(e) : resolve())),
    ),
  );
}

export function sftpRead(sftp: SFTPWrapper, remotePath: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sftp.readFile(remotePath, (err, data) => (err ? reject(err) : resolve(data))),
  );
}
