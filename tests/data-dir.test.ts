import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, startController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD } from './helpers/controller';
import { tempDir, type TempDir } from './helpers/processes';

const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

describe('controller data dir permissions', () => {
  const dirs: TempDir[] = [];
  afterEach(async () => {
    while (dirs.length) await dirs.pop()!.cleanup();
  });

  async function start(dataDir: string) {
    return startController(loadConfig('standalone', { listen: '127.0.0.1:0', dataDir, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {}), { listen: false, announce: () => {} });
  }

  it('tightens an existing 0755 data dir to 0700 and creates the database files 0600', async () => {
    const tmp = await tempDir('cf-datadir-');
    dirs.push(tmp);
    const data = join(tmp.path, 'data');
    await mkdir(data, { mode: 0o755 });
    await chmod(data, 0o755);
    const c = await start(data);
    // A write, so that the WAL files exist.
    await c.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(await mode(data)).toBe('700');
    const files = (await readdir(data)).filter((f) => f.startsWith('caddyfleet.db'));
    expect(files).toEqual(expect.arrayContaining(['caddyfleet.db', 'caddyfleet.db-wal', 'caddyfleet.db-shm']));
    for (const f of files) expect(await mode(join(data, f)), f).toBe('600');
    await c.close();
  });

  it('tightens database files that an older version left readable', async () => {
    const tmp = await tempDir('cf-datadir-');
    dirs.push(tmp);
    const data = join(tmp.path, 'data');
    await (await start(data)).close();
    await chmod(data, 0o755);
    for (const f of await readdir(data)) if (f.startsWith('caddyfleet.db')) await chmod(join(data, f), 0o644);
    const c = await start(data);
    expect(await mode(data)).toBe('700');
    for (const f of await readdir(data)) if (f.startsWith('caddyfleet.db')) expect(await mode(join(data, f)), f).toBe('600');
    await c.close();
  });
});
