/** Running the host's own tools (apt-get, systemctl, useradd…) for install and uninstall. */
import { spawn } from 'node:child_process';

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstallError';
  }
}

export interface CommandResult {
  code: number | null;
  /** stdout and stderr interleaved, trimmed (empty when the output was shown live). */
  output: string;
}

export interface RunOptions {
  /** Show the command's output on our stderr as it runs (apt-get) instead of capturing it. */
  live?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Runs a command with stdin closed: under `curl … | sh` our stdin is the rest of the script, which no child
 * may read. Never throws for a non-zero exit; a command that cannot be started gives code null.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(cmd, args, {
      stdio: ['ignore', opts.live ? process.stderr : 'pipe', opts.live ? process.stderr : 'pipe'],
      env: opts.env ?? process.env,
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : undefined;
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, output: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8').trim() });
    });
  });
}

/** Runs a command that must succeed; the error names the command and carries its output. */
export async function mustRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const how = r.code === null ? 'could not be run' : `failed (exit ${r.code})`;
    throw new InstallError(`\`${[cmd, ...args].join(' ')}\` ${how}${r.output ? `:\n${r.output}` : ''}`);
  }
  return r.output;
}

/** uid/gid of a user from the passwd database (getent: also sees users outside /etc/passwd), or null. */
export async function lookupUser(name: string): Promise<{ uid: number; gid: number } | null> {
  const r = await run('getent', ['passwd', name]);
  if (r.code !== 0) return null;
  const fields = r.output.split('\n')[0]?.split(':') ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
}

/** `systemctl is-active|is-enabled UNIT` → true when the answer is active/enabled. */
export async function unitIs(query: 'is-active' | 'is-enabled', unit: string): Promise<boolean> {
  const r = await run('systemctl', [query, '--quiet', unit]);
  return r.code === 0;
}
