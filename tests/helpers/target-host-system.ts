/**
 * Host-side plumbing for ./target-host.ts: running system commands, the test link (veth cfth<N>, host side
 * 10.200.N.1/24) and the slot registry that lets a later run reclaim what a killed test process left behind.
 *
 * A slot N (40..99) is owned by whoever created the veth `cfth<N>`: `ip link add` is atomic, so parallel test
 * files and parallel worktrees never share a subnet. The owner records itself in /run/caddyfleet/target-hosts/
 * cfth<N>.json; a slot whose owner process is gone is reclaimed (container killed by PID, overlay unmounted,
 * link deleted) by one reclaimer at a time (mkdir lock).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './processes';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (no shell), bounded by `timeoutMs`; never rejects on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr: stderr || (err && code === null ? err.message : '') });
      },
    );
    // A command that never reads stdin may exit before the write lands: that EPIPE is not an error of the command.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input);
  });
}

/** Like run() but throws with the command's output when it fails. */
export async function runOk(cmd: string, args: readonly string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

export const SLOT_FIRST = 40;
export const SLOT_LAST = 99;
const REGISTRY = '/run/caddyfleet/target-hosts';
const RECLAIM_LOCK = join(REGISTRY, '.reclaim.lock');

export interface Slot {
  n: number;
  /** Host side of the veth, in the host namespace: cfth<N>. */
  hostIf: string;
  /** Target side, moved into the container by systemd-nspawn: cfth<N>t. */
  targetIf: string;
  hostAddress: string;
  address: string;
  subnet: string;
}

interface SlotRecord {
  ownerPid: number;
  dir: string;
  nspawnPid?: number;
}

export function slotFor(n: number): Slot {
  return {
    n,
    hostIf: `cfth${n}`,
    targetIf: `cfth${n}t`,
    hostAddress: `10.200.${n}.1`,
    address: `10.200.${n}.2`,
    subnet: `10.200.${n}.0/24`,
  };
}

/** True when some host interface already holds an address in the slot's subnet, or a route covers it. */
async function subnetInUse(slot: Slot): Promise<boolean> {
  const addrs = await runOk('ip', ['-4', '-o', 'addr', 'show']);
  const prefix = `10.200.${slot.n}.`;
  if (addrs.split('\n').some((line) => line.includes(` inet ${prefix}`))) return true;
  const routes = await runOk('ip', ['-4', 'route', 'show', 'table', 'all', 'root', slot.subnet]);
  return routes.trim() !== '';
}

/**
 * Creates the veth pair of the first free slot and gives its host side 10.200.N.1/24.
 * A slot is free when `ip link add cfth<N>` succeeds and nothing else on the host uses 10.200.N.0/24.
 */
export async function claimSlot(dir: string): Promise<Slot> {
  await reclaimStaleSlots();
  mkdirSync(REGISTRY, { recursive: true });
  for (let n = SLOT_FIRST; n <= SLOT_LAST; n++) {
    const slot = slotFor(n);
    const add = await run('ip', ['link', 'add', slot.hostIf, 'type', 'veth', 'peer', 'name', slot.targetIf]);
    if (add.code !== 0) {
      if (/exists/i.test(add.stderr)) continue;
      throw new Error(`ip link add ${slot.hostIf} failed: ${add.stderr.trim()}`);
    }
    writeRecord(slot, { ownerPid: process.pid, dir });
    if (await subnetInUse(slot)) {
      await releaseSlot(slot);
      continue;
    }
    try {
      await runOk('ip', ['addr', 'add', `${slot.hostAddress}/24`, 'dev', slot.hostIf]);
      await runOk('ip', ['link', 'set', slot.hostIf, 'up']);
      // When the target stops, its end of the veth goes and takes the host end and its route along: the
      // blackhole keeps anything still sent to the test subnet on this machine instead of the default route.
      await runOk('ip', ['route', 'add', 'blackhole', slot.subnet, 'metric', '4000']);
    } catch (err) {
      await releaseSlot(slot);
      throw err;
    }
    return slot;
  }
  throw new Error(`no free test subnet among 10.200.${SLOT_FIRST}-${SLOT_LAST}.0/24 (every cfth<N> veth exists)`);
}

export function recordNspawnPid(slot: Slot, dir: string, nspawnPid: number): void {
  writeRecord(slot, { ownerPid: process.pid, dir, nspawnPid });
}

function writeRecord(slot: Slot, record: SlotRecord): void {
  const file = join(REGISTRY, `${slot.hostIf}.json`);
  writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(record));
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** Deletes the veth (both ends go with it) and the slot's record. Safe to call more than once. */
export async function releaseSlot(slot: Slot): Promise<void> {
  rmSync(join(REGISTRY, `${slot.hostIf}.json`), { force: true });
  const del = await run('ip', ['link', 'del', slot.hostIf]);
  if (del.code !== 0 && !/cannot find|does not exist/i.test(del.stderr)) {
    throw new Error(`ip link del ${slot.hostIf} failed: ${del.stderr.trim()}`);
  }
  await run('ip', ['route', 'del', 'blackhole', slot.subnet, 'metric', '4000']);
}

export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (mountPoint && (mountPoint === dir || mountPoint.startsWith(`${dir}/`))) out.push(mountPoint);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** True when `pid` runs systemd-nspawn on a root inside `dir` (guards against a reused PID). */
export function isOurNspawn(pid: number, dir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('systemd-nspawn')) && argv.some((a) => a.startsWith(dir));
  } catch {
    return false;
  }
}

/** Synchronous, bounded sleep, for cleanup in a process 'exit' handler. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Stops a container synchronously (SIGTERM, ≤ graceMs, SIGKILL), unmounts under dir, deletes the link and dir. */
export function teardownSync(record: SlotRecord, hostIf: string, graceMs: number): void {
  const pid = record.nspawnPid;
  if (pid !== undefined && isOurNspawn(pid, record.dir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let waited = 0; waited < graceMs && pidAlive(pid); waited += 50) sleepSync(50);
    if (pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      for (let waited = 0; waited < 2_000 && pidAlive(pid); waited += 50) sleepSync(50);
    }
  }
  for (const mountPoint of mountsUnder(record.dir)) {
    try {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    } catch {
      /* reported by the leftover check of whoever looks */
    }
  }
  // The record goes first: once the link is deleted, another process may claim the slot and write its own.
  rmSync(join(REGISTRY, `${hostIf}.json`), { force: true });
  for (const args of [['link', 'del', hostIf], ['route', 'del', 'blackhole', `10.200.${hostIf.replace(/^cfth/, '')}.0/24`, 'metric', '4000']]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  if (mountsUnder(record.dir).length === 0) rmSync(record.dir, { recursive: true, force: true });
}

/** Cleans up slots whose owning test process is gone (killed before its cleanup ran). */
async function reclaimStaleSlots(): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(REGISTRY).filter((f) => /^cfth\d+\.json$/.test(f));
  } catch {
    return;
  }
  if (names.length === 0) return;
  try {
    if (Date.now() - statSync(RECLAIM_LOCK).mtimeMs > 60_000) rmdirSync(RECLAIM_LOCK);
  } catch {
    /* no lock */
  }
  try {
    mkdirSync(RECLAIM_LOCK);
  } catch {
    return; // another process is reclaiming
  }
  try {
    for (const name of names) {
      let record: SlotRecord;
      try {
        record = JSON.parse(readFileSync(join(REGISTRY, name), 'utf8')) as SlotRecord;
      } catch {
        continue;
      }
      if (pidAlive(record.ownerPid) || !record.dir.startsWith('/')) continue;
      teardownSync(record, name.replace(/\.json$/, ''), 5_000);
    }
  } finally {
    rmdirSync(RECLAIM_LOCK);
  }
}
