/** What every provisioning step gets, and the helpers steps share: logged scripts, staging, verified uploads. */
import path from 'node:path';
import type { Artifact } from './artifacts';
import type { JobRun } from './job-run';
import type { RunResult, SshSession } from './ssh-session';
import { shq } from './hardening';

/** A step that cannot go on; its message becomes the step's message and the job's error. */
export class StepFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepFailure';
  }
}

export interface StepOutcome {
  message: string;
  warning?: boolean;
}

export interface StepEnv {
  readonly job: JobRun;
  readonly kind: 'provision' | 'reprovision';
  readonly nodeId: string;
  /** The URL the host's agent dials (the controller's public URL). */
  readonly controllerUrl: string;
  /** This run's agent key: written to the host, its hash committed to the node once the host has it. */
  readonly agentKey: string;
  readonly agentArtifact: Artifact;
  readonly caddyArtifact: Artifact | null;
  /** `PORT/PROTO` of the node's enabled stream routes, for the first firewall sync. */
  readonly streamPorts: string[];
  /** The expected host key, and where it came from (for the mismatch message); null: trust on first use. */
  readonly expectedHostKey: { sha256: string; from: string } | null;
  session: SshSession | null;
  /** The SSH port this job logged in on (kept open by the firewall). */
  sshPort: number;
  /** The controller's address as the host sees it (from SSH_CLIENT), never banned by fail2ban. */
  controllerIp: string | null;
  /** A private temp dir of the login user on the host for uploads; removed at the end. */
  staging: string | null;
  /** The Caddy binary the agent runs (set by the caddy step). */
  caddyBin: string;
  /** Called once the host has the new key: stores its hash on the node, so the agent can authenticate. */
  commitAgentKey(): Promise<void>;
  /** The node's first hello after `sinceMs`; rejects after `timeoutMs`. */
  waitConnected(sinceMs: number, timeoutMs: number): Promise<void>;
  /** Called with the host key seen on login (trust on first use stores it). */
  recordHostKey(sha256: string): Promise<void>;
}

export function sessionOf(env: StepEnv): SshSession {
  if (!env.session) throw new StepFailure('not connected');
  return env.session;
}

export interface ScriptOptions {
  asUser?: boolean;
  timeoutMs?: number;
  /** Return a failed result instead of throwing. */
  allowFail?: boolean;
  /** Do not copy the output into the log (values read back by the step itself). */
  quiet?: boolean;
}

/** Runs a script on the host with its output in the job log; a non-zero exit fails the step. */
export async function script(env: StepEnv, text: string, opts: ScriptOptions = {}): Promise<RunResult> {
  const session = sessionOf(env);
  let result: RunResult;
  try {
    result = await session.run(text, { asUser: opts.asUser, timeoutMs: opts.timeoutMs, onLine: opts.quiet ? undefined : (l) => env.job.line(l) });
  } catch (err) {
    throw new StepFailure(`${(err as Error).message}`);
  }
  if (result.code !== 0 && !opts.allowFail) {
    const how = result.code === null ? `was killed (${result.signal ?? 'connection lost'})` : `exited with status ${result.code}`;
    const last = result.tail.filter((l) => l.trim()).slice(-1)[0];
    throw new StepFailure(`a command on the host ${how}${last ? `: ${last.trim()}` : ''}`);
  }
  return result;
}

const STAGING_RE = /^\/tmp\/caddyfleet-provision\.[A-Za-z0-9]+$/;

/** The login user's private upload directory on the host (0700), created on first use. */
export async function staging(env: StepEnv): Promise<string> {
  if (env.staging) return env.staging;
  const r = await script(env, 'umask 077; mktemp -d /tmp/caddyfleet-provision.XXXXXXXX', { asUser: true, quiet: true });
  const dir = r.stdout[0]?.trim() ?? '';
  if (!STAGING_RE.test(dir)) throw new StepFailure(`could not create an upload directory on the host (got ${JSON.stringify(dir.slice(0, 80))})`);
  env.staging = dir;
  return dir;
}

/**
 * Puts `artifact` at `dest` (root-owned, 0755) unless the file there already has its checksum. The upload goes to
 * the staging dir, is checked against the SHA-256 the controller computed, then moved into place atomically.
 * Returns whether anything was uploaded.
 */
export async function installArtifact(env: StepEnv, artifact: Artifact, dest: string): Promise<boolean> {
  const current = await script(env, `sha256sum ${shq(dest)} 2>/dev/null | cut -d' ' -f1 || true`, { quiet: true });
  if (current.stdout[0]?.trim() === artifact.sha256) {
    env.job.line(`${dest} is up to date (sha256 ${artifact.sha256.slice(0, 16)}…)`);
    return false;
  }
  const dir = await staging(env);
  const remote = `${dir}/${path.basename(dest)}`;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  env.job.line(`uploading ${path.basename(artifact.path)} (${mb(artifact.size)} MB) to ${dest}`);
  let reported = 0;
  try {
    await sessionOf(env).uploadFile(artifact.path, remote, 0o600, (done, total) => {
      const quarter = Math.floor((done / Math.max(total, 1)) * 4);
      if (quarter > reported) {
        reported = quarter;
        env.job.line(`  ${quarter * 25}% (${mb(done)} of ${mb(total)} MB)`);
      }
    });
  } catch (err) {
    throw new StepFailure(`upload to ${remote} failed: ${(err as Error).message}`);
  }
  await script(
    env,
    `set -eu
got=$(sha256sum ${shq(remote)} | cut -d' ' -f1)
if [ "$got" != ${shq(artifact.sha256)} ]; then echo "checksum mismatch after upload: got $got, expected ${artifact.sha256}"; rm -f ${shq(remote)}; exit 1; fi
echo "sha256 verified: $got"
install -m 0755 -o root -g root ${shq(remote)} ${shq(`${dest}.caddyfleet-new`)}
mv -f ${shq(`${dest}.caddyfleet-new`)} ${shq(dest)}
rm -f ${shq(remote)}`,
  );
  return true;
}
