/**
 * `--max-routes-per-node` sets how many central routes one node may hold (2,000 by default, refused with
 * 409 too_many_routes beyond), and is validated at start like every option. Real SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@caddyfleet/protocol';
import { loadConfig } from '../apps/controller/src/index';
import { TestStore, type TestController } from './helpers/controller';

describe('routes per node', () => {
  let store: TestStore;
  let t: TestController;
  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    t = await store.start({ maxRoutesPerNode: '3' });
  });
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  it('refuses the route past the configured number, naming the limit, and keeps the others', async () => {
    const api = t.client(await t.login());
    for (let i = 0; i < 3; i++) expect((await api.post('/routes', { kind: 'dead', domains: [`cap${i}.test`], tls: 'off' })).status).toBe(201);
    const over = await api.post('/routes', { kind: 'dead', domains: ['cap3.test'], tls: 'off' });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'too_many_routes', details: { limit: 3 } });
    expect((await api.get('/routes?nodeId=local')).body).toHaveLength(3);
  });

  it('defaults to LIMITS.routesPerNode and refuses values out of range with the option named', () => {
    expect(loadConfig('server', { dataDir: '/tmp/x' }, {}).maxRoutesPerNode).toBe(LIMITS.routesPerNode);
    expect(loadConfig('server', {}, { CADDYFLEET_MAX_ROUTES_PER_NODE: '10000' }).maxRoutesPerNode).toBe(10_000);
    expect(() => loadConfig('server', { maxRoutesPerNode: '20001' }, {})).toThrow(/CADDYFLEET_MAX_ROUTES_PER_NODE \(--max-routes-per-node\)/);
    expect(() => loadConfig('server', { maxRoutesPerNode: 'lots' }, {})).toThrow(/max-routes-per-node/);
  });
});
