import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOurProcess, isAlive, parseCmdline, parsePidFile, parseProcStat, readProcStat, runsBinary, runsBootstrap } from './caddy-pid';

const BOOT = '/var/lib/caddyfleet-agent/caddy/bootstrap.json';

describe('parsePidFile', () => {
  it('takes a plain PID with surrounding whitespace', () => {
    expect(parsePidFile('1234\n')).toBe(1234);
    expect(parsePidFile('  42 ')).toBe(42);
  });
  it('refuses init, zero, negatives, junk and out-of-range values', () => {
    for (const t of ['1', '0', '-5', '', 'abc', '12 34', '1e3', '99999999', '4194305']) expect(parsePidFile(t), t).toBeNull();
  });
});

describe('runsBootstrap', () => {
  const argv = (cmdline: string) => parseCmdline(cmdline);
  it('recognises the command line the agent spawns', () => {
    expect(runsBootstrap(argv(`/usr/bin/caddy\0run\0--config\0${BOOT}\0`), BOOT)).toBe(true);
    expect(runsBootstrap(argv(`caddy\0run\0-config\0${BOOT}\0`), BOOT)).toBe(true);
    expect(runsBootstrap(argv(`caddy\0run\0--config=${BOOT}\0`), BOOT)).toBe(true);
  });
  it('refuses other programs and other configs that merely mention the path', () => {
    expect(runsBootstrap(argv(`vi\0${BOOT}\0`), BOOT)).toBe(false);
    expect(runsBootstrap(argv(`caddy\0run\0--config\0${BOOT}.bak\0`), BOOT)).toBe(false);
    expect(runsBootstrap(argv(`caddy\0run\0--config\0/other/caddy/bootstrap.json\0`), BOOT)).toBe(false);
    expect(runsBootstrap(argv(`caddy\0validate\0--config\0${BOOT}\0`), BOOT)).toBe(false);
    expect(runsBootstrap(argv(`caddy\0run\0--config\0`), BOOT)).toBe(false);
    expect(runsBootstrap([], BOOT)).toBe(false);
  });
});

describe('parseProcStat', () => {
  const tail = ' S 1 4321 4321 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 123456789 2000 18446744073709551615';
  it('reads state, process group and start time', () => {
    expect(parseProcStat(`4321 (caddy)${tail}`)).toEqual({ state: 'S', pgrp: 4321, startTime: '987654' });
  });
  it('copes with spaces and parentheses in the command name', () => {
    expect(parseProcStat(`4321 (we ird) (x)${tail.replace(' S ', ' Z ')}`)).toEqual({ state: 'Z', pgrp: 4321, startTime: '987654' });
  });
  it('refuses truncated or garbled input', () => {
    expect(parseProcStat('4321 (caddy) S 1 2')).toBeNull();
    expect(parseProcStat('no parenthesis at all')).toBeNull();
  });
  it('reads this very process from /proc', () => {
    const own = readProcStat(process.pid);
    expect(own).not.toBeNull();
    expect(isAlive({ pid: process.pid, startTime: own!.startTime })).toBe(true);
    // Same PID, other start time: a reused PID is not the process we knew.
    expect(isAlive({ pid: process.pid, startTime: own!.startTime + '0' })).toBe(false);
  });
});

// A process that is ours (a real `caddy run --config …`) is found in tests/caddy-adopt.test.ts.
describe('findOurProcess', () => {
  it('finds nothing for a missing or garbled pid file, a dead PID, or a live foreign process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'caddyfleet-pid-'));
    const boot = join(dir, 'bootstrap.json');
    const pidFile = join(dir, 'caddy.pid');
    try {
      expect(await findOurProcess(pidFile, boot)).toBeNull();
      await writeFile(pidFile, 'not a pid\n');
      expect(await findOurProcess(pidFile, boot)).toBeNull();
      // A live process whose command line mentions the bootstrap file without running it.
      const foreign = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'run', '--config', boot], { stdio: 'ignore' });
      try {
        await new Promise((r) => foreign.once('spawn', r));
        await writeFile(pidFile, `${foreign.pid}\n`);
        expect(await findOurProcess(pidFile, boot)).toBeNull();
      } finally {
        foreign.kill('SIGKILL');
      }
      await new Promise((r) => foreign.once('exit', r));
      expect(await findOurProcess(pidFile, boot)).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('runsBinary', () => {
  it('compares the running executable with a path by device and inode', async () => {
    expect(await runsBinary(process.pid, process.execPath)).toBe(true);
    expect(await runsBinary(process.pid, '/bin/sh')).toBe(false);
    expect(await runsBinary(process.pid, '/no/such/binary')).toBeNull();
  });
});
