/**
 * A full disk, for real: the controller's data dir is a small tmpfs mounted by the test and filled up. Reads
 * keep working (a bookkeeping write that fails does not fail them), changes get 507 storage_full with a
 * message, and everything works again once there is room.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD, TestController } from './helpers/controller';
import { isCI, tempDir, type TempDir } from './helpers/processes';

/** Mounting needs root (CAP_SYS_ADMIN); under CI that is a requirement, locally the test skips without it. */
function canMount(): boolean {
  if (process.getuid?.() === 0) return true;
  if (isCI()) throw new Error('CI=true: the disk-full test needs root to mount a tmpfs');
  return false;
}

describe.skipIf(!canMount())('disk full', () => {
  let dir: TempDir;
  let mountPoint = '';
  let mounted = false;
  let t: TestController;

  beforeAll(async () => {
    dir = await tempDir('cf-diskfull-');
    mountPoint = join(dir.path, 'data');
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint]);
    mounted = true;
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: mountPoint, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {});
    t = new TestController(await startController(config, { listen: false, announce: () => {} }));
  });
  afterAll(async () => {
    await t?.close().catch(() => {});
    if (mounted) execFileSync('umount', [mountPoint]);
    await dir?.cleanup();
  });

  /** Writes a filler file until the file system says ENOSPC. */
  async function fill(file: string): Promise<void> {
    const handle = await open(file, 'w');
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (let i = 0; i < 10_000; i++) await handle.write(chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      await handle.close();
    }
  }

  it('answers reads, refuses changes with 507 storage_full, and recovers', async () => {
    const admin = t.client(await t.login());
    const token = (await admin.post('/tokens', { name: 'full' })).body.token as string;
    const bearer = { authorization: `Bearer ${token}` };
    // The next use of the token wants to record it (at most once a minute).
    await t.db.updateTable('api_tokens').set({ last_used_at: '2000-01-01T00:00:00.000Z' }).execute();
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(t.db);
    const filler = join(mountPoint, 'filler');
    await fill(filler);

    const read = await t.request('GET', '/routes', { headers: bearer });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    const write = await t.request('POST', '/routes', { headers: bearer, body: { kind: 'dead', domains: ['full.test'], tls: 'off' } });
    expect(write.status, JSON.stringify(write.body)).toBe(507);
    expect(write.body.error.code).toBe('storage_full');
    expect(write.body.error.message).toMatch(/storage is full; nothing was changed/);

    await rm(filler);
    const again = await t.request('POST', '/routes', { headers: bearer, body: { kind: 'dead', domains: ['full.test'], tls: 'off' } });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
  });
});
