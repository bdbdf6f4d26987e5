import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateFileError } from './errors';
import { writeFileAtomic } from './atomic-file';
import { StateStore } from './state';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'caddyfleet-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('StateStore', () => {
  it('creates the state dir 0700 and tightens a looser one', async () => {
    const store = new StateStore(path.join(dir, 'state'));
    await store.init();
    expect(await mode(store.dir)).toBe(0o700);
    await chmod(store.dir, 0o755);
    await store.init();
    expect(await mode(store.dir)).toBe(0o700);
  });

  it('writes agent.json 0600, atomically, and reads it back', async () => {
    const store = new StateStore(dir);
    expect(await store.readAgent()).toBeNull();
    const agent = { controller: 'https://fleet.example.com', nodeId: 'node_1', agentKey: 'cfa_secret' };
    const oldUmask = process.umask(0o000);
    try {
      await store.writeAgent(agent);
    } finally {
      process.umask(oldUmask);
    }
    expect(await mode(store.agentFile)).toBe(0o600);
    expect(await store.readAgent()).toEqual(agent);
    // No temp files left behind.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps state-dir paths in applied.json relative, so a copied state dir points at itself', async () => {
    const a = new StateStore(path.join(dir, 'a'));
    await a.init();
    const config = {
      admin: { listen: `unix/${a.dir}/caddy/admin.sock` },
      storage: { module: 'file_system' as const, root: `${a.dir}/caddy/data/caddy` },
      apps: { http: { http_port: 80, servers: {} } },
    };
    await a.writeApplied({ revision: 1, routes: [], config });
    const text = await readFile(a.appliedFile, 'utf8');
    expect(text).not.toContain(a.dir);
    expect(text).toContain('unix/$STATE_DIR/caddy/admin.sock');
    expect((await a.readApplied())!.config).toEqual(config);

    const b = new StateStore(path.join(dir, 'b'));
    await b.init();
    await writeFile(b.appliedFile, text);
    const copied = (await b.readApplied())!.config;
    expect(copied.admin.listen).toBe(`unix/${b.dir}/caddy/admin.sock`);
    expect(copied.storage!.root).toBe(`${b.dir}/caddy/data/caddy`);
  });

  it('writes applied.json and local-routes.json 0600 and reads them back', async () => {
    const store = new StateStore(dir);
    const config = { admin: { listen: 'unix//x' }, apps: { http: { http_port: 80, servers: {} } } };
    const applied = { revision: 3, routes: [], config, appliedAt: '2026-01-01T00:00:00.000Z' };
    await store.writeApplied(applied);
    expect(await mode(store.appliedFile)).toBe(0o600);
    expect(await store.readApplied()).toEqual(applied);

    const local = {
      id: 'loc_0123456789abcdef',
      kind: 'proxy' as const,
      nodeId: null,
      scope: 'local_only' as const,
      enabled: true,
      domains: ['a.test'],
      upstreams: [{ host: '127.0.0.1', port: 8080 }],
      tls: 'off' as const,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    await store.writeLocalRoutes([local]);
    expect(await mode(store.localRoutesFile)).toBe(0o600);
    expect(await store.readLocalRoutes()).toEqual([local]);
  });

  it('names the file and the problem when a file is corrupt', async () => {
    const store = new StateStore(dir);
    await writeFile(store.agentFile, '{not json');
    await expect(store.readAgent()).rejects.toThrow(StateFileError);
    await expect(store.readAgent()).rejects.toThrow(/agent\.json: is not valid JSON/);
    await writeFile(store.appliedFile, JSON.stringify({ revision: -1, routes: [], config: {} }));
    await expect(store.readApplied()).rejects.toThrow(/applied\.json: has an unexpected shape \(revision: /);
    await writeFile(store.localRoutesFile, JSON.stringify({ routes: [{ id: 'loc_1', kind: 'proxy', domains: ['bad domain'], upstreams: [] }] }));
    await expect(store.readLocalRoutes()).rejects.toThrow(/local-routes\.json: has an unexpected shape/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the whole file and keeps the requested mode', async () => {
    const file = path.join(dir, 'f.json');
    await writeFile(file, 'old content that is longer', { mode: 0o644 });
    await writeFileAtomic(file, 'new', 0o600);
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await mode(file)).toBe(0o600);
  });
});
