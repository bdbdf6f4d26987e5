/**
 * A 10.200.N.0/24 test subnet no other test is using right now. Test files run in parallel (and other suites
 * on the same machine create their own bridges), so a subnet is taken only when no interface address or route
 * of the host falls into it, and it is held by a lock file with our PID until released; a lock whose process
 * is gone is taken over.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './processes';

const LOCK_DIR = '/tmp/caddyfleet-test-subnets';
/** Third octets handed out here; low numbers are left to tests that pick fixed subnets. */
const FIRST = 100;
const LAST = 249;

export interface TestSubnet {
  /** The N of 10.200.N.0/24. */
  n: number;
  /** `10.200.N.` */
  prefix: string;
  release(): void;
}

function inUseByHost(n: number): boolean {
  const needle = `10.200.${n}.`;
  const addrs = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  return addrs.includes(needle) || routes.includes(needle);
}

function tryLock(file: string): boolean {
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(file, 'utf8').trim());
  if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) return false;
  rmSync(file, { force: true });
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

export function allocateTestSubnet(): TestSubnet {
  mkdirSync(LOCK_DIR, { recursive: true });
  const span = LAST - FIRST + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const n = FIRST + ((start + i) % span);
    if (inUseByHost(n)) continue;
    const file = join(LOCK_DIR, `10.200.${n}.lock`);
    if (!tryLock(file)) continue;
    // Checked again under the lock: a bridge may have appeared between the first look and the lock.
    if (inUseByHost(n)) {
      rmSync(file, { force: true });
      continue;
    }
    let released = false;
    return {
      n,
      prefix: `10.200.${n}.`,
      release() {
        if (released) return;
        released = true;
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new Error(`no free test subnet in 10.200.${FIRST}-${LAST}.0/24`);
}
