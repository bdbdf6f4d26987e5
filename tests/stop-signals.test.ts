/**
 * SIGHUP (the terminal of a foreground `caddyfleet standalone` or `caddyfleet agent` was closed) goes through the
 * same graceful shutdown as SIGTERM: exit 0, the managed Caddy stopped with its process. Before, Node's default
 * killed the process on the spot and the detached Caddy kept serving.
 *
 *  - a real `caddyfleet standalone` (controller + local node with /usr/bin/caddy on 127.0.0.51) sent SIGHUP by PID;
 *  - the same under a real terminal (util-linux `script` holds the pty) that is closed by killing `script`: the
 *    kernel hangs up the pty, and every later write to it fails with EIO, which must not crash the cleanup;
 *  - a real `caddyfleet agent` (127.0.0.52) and a real `caddyfleet-agent run` (the agent binary's entry point, run
 *    from source, 127.0.0.54), enrolled in an in-process controller, each sent SIGHUP by PID.
 *
 * Missing Caddy or `script`: fails under CI=true, skips locally.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiClient } from '../apps/agent/src/index';
import { CADDY_BIN, CLI_BIN, FleetAgent, FleetController, requireCaddy, waitPidGone } from './helpers/fleet';
import { Standalone, STANDALONE_ADMIN_PASSWORD } from './helpers/standalone';
import { freePort, pidAlive, requireBinary, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './helpers/processes';

const SCRIPT = '/usr/bin/script';
const ROOT = join(CLI_BIN, '..', '..');
const AGENT_MAIN = join(ROOT, 'apps/agent/src/bin/main.ts');
const caddyReady = requireCaddy();
const scriptReady = requireBinary(SCRIPT, 'bsdutils');

/** The PID in the local node's Caddy pid file (written before the standalone prints its local-node line). */
function localCaddyPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'local-agent', 'caddy', 'caddy.pid'), 'utf8').trim());
}

/** This process's environment without CADDYFLEET_* (the child gets only what the test sets). */
function ownEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CADDYFLEET_')));
}

/** The only child of a process (Linux /proc). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  expect(children).toHaveLength(1);
  return Number(children[0]);
}

/** Sends `signal` by PID and waits (bounded) for the exit. */
async function signalAndWait(proc: LoggedProcess, signal: NodeJS.Signals) {
  process.kill(proc.pid, signal);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no exit 20 s after ${signal}\n${proc.describe()}`)), 20_000))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!caddyReady)('SIGHUP stops caddyfleet standalone like SIGTERM', () => {
  let standalone: Standalone;

  beforeAll(async () => {
    standalone = await Standalone.start({ ip: '127.0.0.51' });
  });
  afterAll(async () => {
    await standalone?.dispose();
  });

  it('exits 0 through the graceful shutdown and stops its local node\'s Caddy', async () => {
    const caddyPid = localCaddyPid(join(standalone.dir.path, 'data'));
    expect(pidAlive(caddyPid)).toBe(true);
    const proc = standalone.proc!;
    const exit = await signalAndWait(proc, 'SIGHUP');
    expect(exit, proc.describe()).toEqual({ code: 0, signal: null });
    expect(proc.output()).toContain('caddyfleet: SIGHUP received, shutting down');
    expect(proc.output()).toContain('caddyfleet: stopped');
    await waitPidGone(caddyPid);
  });
});

describe.skipIf(!caddyReady || !scriptReady)('closing the terminal of caddyfleet standalone', () => {
  let term: LoggedProcess | undefined;
  let nodePid = 0;
  let caddyPid = 0;

  afterAll(async () => {
    await term?.stop();
    // Only when the test failed: what the hang-up should have stopped, by the PIDs recorded below.
    for (const pid of [nodePid, caddyPid]) if (pid > 1 && pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('hangs up: the process shuts down cleanly although its terminal is gone, and its Caddy stops', async () => {
    const standalone = await Standalone.start({ ip: '127.0.0.53' });
    // Only its data dir and ports are borrowed: the process itself runs inside the terminal below.
    await standalone.stop();
    const dataDir = join(standalone.dir.path, 'data');
    const args = [
      process.execPath, CLI_BIN, 'standalone',
      '--listen', `127.0.0.1:${standalone.port}`,
      '--data-dir', dataDir,
      '--http-listen', `127.0.0.53:${standalone.httpPort}`,
      '--https-listen', `127.0.0.53:${standalone.httpsPort}`,
    ].map((a) => `'${a}'`);
    try {
      // As typed into a shell: sh is the terminal's session leader, the controller its foreground child.
      term = spawnLogged(SCRIPT, ['-qfec', args.join(' '), '/dev/null'], {
        name: 'script (terminal)',
        env: { ...ownEnv(), SHELL: '/bin/sh', CADDYFLEET_ADMIN_PASSWORD: STANDALONE_ADMIN_PASSWORD, CADDYFLEET_LOG_LEVEL: 'info', NO_COLOR: '1' },
      });
      await term.waitForOutput('caddyfleet local node:', 30_000);
      const shellPid = childOf(term.pid);
      nodePid = childOf(shellPid);
      expect(readFileSync(`/proc/${nodePid}/cmdline`, 'utf8')).toContain(CLI_BIN);
      caddyPid = localCaddyPid(dataDir);
      expect(pidAlive(caddyPid)).toBe(true);

      // The terminal goes away (its emulator is killed): the kernel sends SIGHUP, and the pty answers EIO from now on.
      process.kill(term.pid, 'SIGKILL');
      await term.exited;
      await waitPidGone(nodePid, 20_000);
      await waitPidGone(caddyPid);
      // The database was closed: SQLite removes its write-ahead log when the last connection closes.
      await waitFor(() => !readdirSync(dataDir).some((f) => f.endsWith('-wal')), { timeoutMs: 1000, description: 'no SQLite -wal file left' });
    } finally {
      await standalone.dispose();
    }
  });
});

describe.skipIf(!caddyReady)('SIGHUP stops the agent like SIGTERM', () => {
  let ctl: FleetController;
  let agent: FleetAgent | undefined;
  let agentBin: LoggedProcess | undefined;
  let dir: TempDir | undefined;

  beforeAll(async () => {
    ctl = await FleetController.start();
    agent = await FleetAgent.enroll(ctl, { ip: '127.0.0.52', name: 'hangup-agent' });
    dir = await tempDir('cf-hangup-agent-bin-');
  });
  afterAll(async () => {
    await agentBin?.stop();
    await agent?.dispose();
    await ctl?.dispose();
    await dir?.cleanup();
  });

  it('exits 0 and stops its Caddy', async () => {
    const a = agent!;
    const caddyPid = await a.caddyPid();
    const exit = await signalAndWait(a.proc!, 'SIGHUP');
    expect(exit, a.describe()).toEqual({ code: 0, signal: null });
    expect(a.output()).toContain('caddyfleet agent: stopped');
    await waitPidGone(caddyPid);
    expect(await a.tryGet('any.test', '/', 1000)).toBeNull();
  });

  it('caddyfleet-agent run (the agent binary\'s entry point, from source) exits 0 and stops its Caddy', async () => {
    const stateDir = join(dir!.path, 'state');
    agentBin = spawnLogged(
      process.execPath,
      ['--import', 'tsx', AGENT_MAIN, 'run', '--controller', ctl.url, '--state-dir', stateDir, '--caddy-bin', CADDY_BIN, '--name', 'hangup-agent-bin',
        '--http-listen', `127.0.0.54:${await freePort('127.0.0.54')}`, '--https-listen', `127.0.0.54:${await freePort('127.0.0.54')}`, '--drift-check-seconds', '0'],
      { name: 'caddyfleet-agent run', cwd: ROOT, env: { ...ownEnv(), CADDYFLEET_ENROLLMENT_TOKEN: await ctl.enrollmentToken() } },
    );
    const caddyPid = await waitFor(async () => (await LocalApiClient.forStateDir(stateDir, 3000).status().catch(() => null))?.caddy.pid, {
      timeoutMs: 30_000,
      description: `a Caddy PID in the agent's status\n${agentBin.describe()}`,
    });
    const exit = await signalAndWait(agentBin, 'SIGHUP');
    expect(exit, agentBin.describe()).toEqual({ code: 0, signal: null });
    await waitPidGone(caddyPid);
  });
});
