import { randomSecret, sha256 } from './crypto';
import { LOCAL_NODE_ID, type ServiceContext } from './services/context';

/**
 * Gives the controller's own local node a fresh agent key for the in-process agent of `standalone` mode. The key
 * never leaves the process; it changes at every start, so an old one found on disk is worthless.
 */
export async function issueLocalAgentKey(ctx: ServiceContext): Promise<string> {
  const key = randomSecret('cfa');
  await ctx.db.updateTable('nodes').set({ agent_key_hash: sha256(key) }).where('id', '=', LOCAL_NODE_ID).execute();
  return key;
}
