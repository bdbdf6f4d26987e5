/**
 * The managed Caddy's supervisor (apps/agent/src/caddy-process.ts) against a real /usr/bin/caddy, in this
 * process: Caddy runs detached with its output in caddy.log, detach() leaves it running, the next ManagedCaddy
 * on the same dir adopts it (same PID, no restart) and supervises it by polling, a leftover that does not
 * answer is replaced, and a foreign process named by the pid file is never touched. Admin API on a unix socket
 * only; Caddy's XDG dirs are inside the temp dir (ManagedCaddy sets them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManagedCaddy, type ManagedCaddyOptions } from '../apps/agent/src/caddy-process';
import { readProcStat } from '../apps/agent/src/caddy-pid';
import { captureLogger, type CapturedLogger } from '../apps/agent/test-support/fixtures';
import { pidAlive, requireBinary, tempDir, waitFor, waitPidGone, type TempDir } from './helpers/processes';

const CADDY = '/usr/bin/caddy';
const hasCaddy = requireBinary(CADDY, 'caddy');

describe.skipIf(!hasCaddy)('managed Caddy: detached, left running, adopted', () => {
  let dir: TempDir;
  const live: ManagedCaddy[] = [];
  /** Every Caddy PID seen, stopped by PID at the end if still running. */
  const pids = new Set<number>();
  const foreign: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-adopt-');
  });

  afterEach(async () => {
    for (const c of live.splice(0)) {
      if (c.pid) pids.add(c.pid);
      await c.stop().catch(() => {});
    }
  });

  afterAll(async () => {
    for (const pid of pids) {
      const stat = readProcStat(pid);
      // Only a Caddy of this test (its command line names our temp dir) is signalled.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (stat && cmdline.includes(dir.path)) process.kill(pid, 'SIGKILL');
    }
    for (const f of foreign) f.kill('SIGKILL');
    await dir?.cleanup();
  });

  function managed(sub: string, log: CapturedLogger, extra: Partial<ManagedCaddyOptions> = {}) {
    const starts: boolean[] = [];
    const caddy = new ManagedCaddy({
      bin: CADDY,
      dir: join(dir.path, sub, 'caddy'),
      log: log.log,
      onStarted: async (restarted) => void starts.push(restarted),
      onGiveUp: () => {},
      restartMinMs: 50,
      restartMaxMs: 200,
      adoptedPollMs: 200,
      ...extra,
    });
    live.push(caddy);
    return { caddy, starts };
  }

  it('runs Caddy in its own process group with its output in caddy.log, not in pipes', async () => {
    const { caddy } = managed('group', captureLogger());
    await caddy.start();
    const pid = caddy.pid!;
    pids.add(pid);
    expect(readProcStat(pid)?.pgrp).toBe(pid);
    expect(readProcStat(pid)?.pgrp).not.toBe(readProcStat(process.pid)?.pgrp);
    expect(await readlink(`/proc/${pid}/fd/1`)).toBe(caddy.logFile);
    expect(await readlink(`/proc/${pid}/fd/2`)).toBe(caddy.logFile);
    // Caddy's own start-up lines, quoted by outputTail for error messages.
    expect(await caddy.outputTail()).toMatch(/"level":"info"/);
    expect(await readFile(caddy.pidFile, 'utf8')).toBe(`${pid}\n`);
  });

  it('detach() leaves Caddy serving; the next supervisor adopts it, and starts a fresh one when it dies', async () => {
    const first = managed('adopt', captureLogger());
    await first.caddy.start();
    const pid = first.caddy.pid!;
    pids.add(pid);
    first.caddy.detach();
    live.splice(live.indexOf(first.caddy), 1);
    expect(pidAlive(pid)).toBe(true);
    expect(await first.caddy.admin.ping()).toBe(true);

    const log = captureLogger();
    const second = managed('adopt', log);
    await second.caddy.start();
    expect(second.caddy.pid).toBe(pid);
    expect(second.caddy.adopted).toBe(true);
    expect(second.starts).toEqual([false]);
    expect(log.text()).toContain('adopted the Caddy left running by the previous agent');

    // Not our child: the supervisor notices its death by polling /proc, and starts a child of its own.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => second.caddy.restarts === 1 && second.caddy.running, { timeoutMs: 15_000, description: 'a fresh Caddy after the adopted one died' });
    pids.add(second.caddy.pid!);
    expect(second.caddy.pid).not.toBe(pid);
    expect(second.caddy.adopted).toBe(false);
    expect(second.starts).toEqual([false, true]);
    expect(await second.caddy.admin.ping()).toBe(true);
    await waitFor(() => log.text().includes('Caddy exited unexpectedly'), { timeoutMs: 5000, description: 'exit logged' });

    // stop() ends an adopted or own Caddy alike and removes the pid file.
    const own = second.caddy.pid!;
    await second.caddy.stop();
    await waitPidGone(own);
    await expect(readFile(second.caddy.pidFile, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('stops a leftover Caddy of ours whose admin API does not answer, and starts a new one', async () => {
    const first = managed('frozen', captureLogger());
    await first.caddy.start();
    const pid = first.caddy.pid!;
    pids.add(pid);
    first.caddy.detach();
    live.splice(live.indexOf(first.caddy), 1);
    process.kill(pid, 'SIGSTOP');

    const log = captureLogger();
    const second = managed('frozen', log);
    await second.caddy.start();
    pids.add(second.caddy.pid!);
    expect(second.caddy.pid).not.toBe(pid);
    expect(second.caddy.adopted).toBe(false);
    expect(log.text()).toContain('does not answer on its admin socket; stopping it');
    await waitPidGone(pid);
  });

  it('replaces a leftover Caddy that runs another binary than --caddy-bin (an upgraded Caddy)', async () => {
    const first = managed('upgraded', captureLogger());
    await first.caddy.start();
    const pid = first.caddy.pid!;
    pids.add(pid);
    first.caddy.detach();
    live.splice(live.indexOf(first.caddy), 1);
    // A copy is another file (another inode), as a package upgrade's new binary would be.
    const upgraded = join(dir.path, 'caddy-upgraded');
    await copyFile(CADDY, upgraded);
    await chmod(upgraded, 0o755);
    const log = captureLogger();
    const second = managed('upgraded', log, { bin: upgraded });
    await second.caddy.start();
    pids.add(second.caddy.pid!);
    expect(second.caddy.adopted).toBe(false);
    expect(second.caddy.pid).not.toBe(pid);
    expect(log.text()).toContain('runs another binary');
    await waitPidGone(pid);
    await second.caddy.stop();
    await rm(upgraded);
  });

  it('never touches a foreign process named by the pid file', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    foreign.push(other);
    await new Promise((r) => other.once('spawn', r));
    const { caddy } = managed('foreign', captureLogger());
    await mkdir(join(dir.path, 'foreign', 'caddy'), { recursive: true });
    await writeFile(caddy.pidFile, `${other.pid}\n`);
    await caddy.start();
    pids.add(caddy.pid!);
    expect(caddy.adopted).toBe(false);
    expect(caddy.pid).not.toBe(other.pid);
    expect(pidAlive(other.pid!)).toBe(true);
    expect(await readFile(caddy.pidFile, 'utf8')).toBe(`${caddy.pid}\n`);
  });

  it("quotes the binary's own output from caddy.log when it exits during start-up", async () => {
    const fake = join(dir.path, 'fake-caddy.sh');
    await writeFile(fake, '#!/bin/sh\necho "fake caddy: port exploded" >&2\nexit 1\n', { mode: 0o755 });
    const { caddy } = managed('fake', captureLogger(), { bin: fake });
    await expect(caddy.start()).rejects.toThrow(/exited during start-up[\s\S]*fake caddy: port exploded/);
    const missing = managed('missing', captureLogger(), { bin: join(dir.path, 'no-such-caddy') });
    await expect(missing.caddy.start()).rejects.toThrow(/could not be started: .*ENOENT/);
  });
});
