import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRouteInputError, LocalRouteStore } from './local-routes';
import { StateStore } from './state';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'caddyfleet-local-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalRouteStore', () => {
  it('validates like POST /routes, forces scope local_only, assigns loc_ ids and persists', async () => {
    const state = new StateStore(dir);
    const store = new LocalRouteStore(state);
    await store.load();
    const r = await store.add({ kind: 'proxy', domains: ['App.Test'], upstreams: [{ host: '127.0.0.1', port: 3000 }], scope: 'exclusive', nodeId: 'node_x' });
    expect(r.id).toMatch(/^loc_[0-9a-f]{16}$/);
    expect(r).toMatchObject({ scope: 'local_only', nodeId: null, domains: ['app.test'], tls: 'auto', enabled: true });

    const reloaded = new LocalRouteStore(state);
    await reloaded.load();
    expect(reloaded.list()).toEqual([r]);
    expect(await reloaded.remove(r.id)).toEqual(r);
    expect(await reloaded.remove(r.id)).toBeNull();
    expect(await state.readLocalRoutes()).toEqual([]);
  });

  it('refuses an access-list range with host bits set, naming the field, and stores nothing', async () => {
    const store = new LocalRouteStore(new StateStore(dir));
    await store.load();
    const err = await store
      .add({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: 'h', port: 1 }], tls: 'off', options: { access: { allow: ['127.0.0.1', '10.200.1.10/24'] } } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((err as Error).message).toBe('invalid route: options.access.allow.1: has bits set after its prefix: write 10.200.1.0/24 for the range, or the address alone for one host');
    expect(store.list()).toEqual([]);
  });

  it('refuses invalid input with the field and a local duplicate with 409', async () => {
    const store = new LocalRouteStore(new StateStore(dir));
    const err = await store.add({ kind: 'proxy', domains: ['bad_domain'], upstreams: [{ host: 'h', port: 1 }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalRouteInputError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((err as Error).message).toMatch(/^invalid route: domains\.0: /);
    await expect(store.add({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: 'h', port: 1 }], id: 'loc_mine' })).rejects.toMatchObject({ status: 400 });
    await expect(store.add('nope')).rejects.toMatchObject({ status: 400 });

    await store.add({ kind: 'dead', domains: ['a.test'] });
    await expect(store.add({ kind: 'proxy', domains: ['a.test'], upstreams: [{ host: 'h', port: 1 }] })).rejects.toMatchObject({
      status: 409,
      code: 'local_route_conflict',
    });
  });
});
