import os from 'node:os';
import { newId } from './crypto';
import { LOCAL_NODE_ID, type ServiceContext } from './services/context';
import { newNodeRow } from './services/node-service';

/**
 * Makes sure the controller's built-in local node exists, with a default tenant → organization → site to hold
 * it, so `nodeId: null` routes always have somewhere to land.
 */
export async function ensureLocalNode(ctx: ServiceContext): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('nodes').select('id').where('id', '=', LOCAL_NODE_ID).executeTakeFirst();
    if (existing) return;
    const now = ctx.now().toISOString();
    const stamp = { created_at: now, updated_at: now };
    const tenantId = newId('ten');
    const orgId = newId('org');
    const siteId = newId('site');
    await trx.insertInto('tenants').values({ id: tenantId, name: 'Default', ...stamp }).execute();
    await trx.insertInto('organizations').values({ id: orgId, tenant_id: tenantId, name: 'Default', ...stamp }).execute();
    await trx.insertInto('sites').values({ id: siteId, organization_id: orgId, name: 'Local', ...stamp }).execute();
    await trx
      .insertInto('nodes')
      .values(newNodeRow({ id: LOCAL_NODE_ID, site_id: siteId, name: 'local', hostname: os.hostname().toLowerCase(), is_local: 1, agent_key_hash: null }, now))
      .execute();
  });
}
