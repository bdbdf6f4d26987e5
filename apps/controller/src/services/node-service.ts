import { sql } from 'kysely';
import { LIMITS, type Certificate, type FleetNode, type NodeDeleted, type NodeStatus } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import type { NodeTable } from '../db/schema';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { audit } from './audit-service';
import { LOCAL_NODE_ID, type Actor, type ServiceContext } from './context';
import { reassignRoutesToLocal, uninstallCommands } from './node-removal';

export function nodeToApi(row: NodeTable): FleetNode {
  return {
    id: row.id,
    name: row.name,
    siteId: row.site_id,
    hostname: row.hostname,
    isLocal: row.is_local === 1,
    status: row.status as NodeStatus,
    caddyVersion: row.caddy_version,
    agentVersion: row.agent_version,
    lastSeenAt: row.last_seen_at,
    routeCount: row.route_count,
    certCount: row.cert_count,
    desiredRevision: row.desired_revision,
    appliedRevision: row.applied_revision,
    lastError: row.last_error,
    revokedAt: row.revoked_at,
    caddyModules: parseJsonArray(row.caddy_modules),
    listeners: row.http_port !== null && row.https_port !== null ? { http: row.http_port, https: row.https_port } : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sshHostKeySha256: row.ssh_host_key_sha256,
  };
}

/** A stored JSON array, or null when there is none (or it is unreadable: treated as never reported). */
export function parseJsonArray<T = string>(text: string | null): T[] | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as T[]) : null;
  } catch {
    return null;
  }
}

/** A node that has never been in contact: pending, revision 0, nothing reported yet. */
export function newNodeRow(fields: Pick<NodeTable, 'id' | 'site_id' | 'name' | 'hostname' | 'is_local' | 'agent_key_hash'>, now: string): NodeTable {
  return {
    ...fields,
    status: 'pending',
    caddy_version: null,
    agent_version: null,
    last_seen_at: null,
    route_count: 0,
    cert_count: 0,
    desired_revision: 0,
    applied_revision: 0,
    last_error: null,
    revoked_at: null,
    ssh_host_key_sha256: null,
    caddy_modules: null,
    http_port: null,
    https_port: null,
    certificates: null,
    certificates_at: null,
    upstream_health: null,
    upstream_health_at: null,
    created_at: now,
    updated_at: now,
  };
}

/**
 * Moves a node's desired revision forward by one inside the caller's transaction: the change and the signal
 * that it must reach the node commit together, so a crash cannot lose one without the other.
 */
export async function bumpRevision(trx: Db, nodeId: string): Promise<number> {
  const row = await trx
    .updateTable('nodes')
    .set((eb) => ({ desired_revision: eb('desired_revision', '+', 1) }))
    .where('id', '=', nodeId)
    .returning('desired_revision')
    .executeTakeFirst();
  if (!row) throw new NotFoundError('node', nodeId);
  return row.desired_revision;
}

/** The node (other than `except`) whose name equals `name` ignoring case, if any. */
export async function nodeNamed(trx: Db, name: string, except?: string): Promise<{ id: string } | undefined> {
  let q = trx.selectFrom('nodes').select('id').where(sql<string>`lower(name)`, '=', name.toLowerCase());
  if (except) q = q.where('id', '!=', except);
  return q.executeTakeFirst();
}

/** `name`, or `name-2`, `name-3`, … when that is taken: node names stay unique, so tables can show them. */
export async function freeNodeName(trx: Db, name: string): Promise<string> {
  if (!(await nodeNamed(trx, name))) return name;
  for (let n = 2; n < 10_000; n++) {
    const suffix = `-${n}`;
    const candidate = name.slice(0, LIMITS.name - suffix.length) + suffix;
    if (!(await nodeNamed(trx, candidate))) return candidate;
  }
  throw new ConflictError('node_name_taken', `every variant of the node name ${name} is taken`);
}

export class NodeService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(siteId?: string): Promise<FleetNode[]> {
    let q = this.ctx.db.selectFrom('nodes').selectAll().orderBy('is_local', 'desc').orderBy('name').orderBy('id');
    if (siteId) q = q.where('site_id', '=', siteId);
    // Without a local node the built-in row stays in the database (its routes keep their history) but is no target.
    if (!this.ctx.localNodeEnabled) q = q.where('id', '!=', LOCAL_NODE_ID);
    return (await q.execute()).map(nodeToApi);
  }

  async getRow(id: string, trx: Db = this.ctx.db): Promise<NodeTable> {
    const row = await trx.selectFrom('nodes').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('node', id);
    return row;
  }

  async get(id: string): Promise<FleetNode> {
    return nodeToApi(await this.getRow(id));
  }

  /** The certificates the node's agent last reported, soonest expiry first. */
  async certificates(id: string): Promise<{ nodeId: string; reportedAt: string | null; certificates: Certificate[] }> {
    const row = await this.getRow(id);
    const list = parseJsonArray<Certificate>(row.certificates) ?? [];
    list.sort((a, b) => (a.notAfter < b.notAfter ? -1 : a.notAfter > b.notAfter ? 1 : 0));
    return { nodeId: row.id, reportedAt: row.certificates_at, certificates: list };
  }

  async patch(actor: Actor, id: string, patch: { name?: string | undefined; siteId?: string | undefined }): Promise<FleetNode> {
    const node = await this.ctx.db.transaction().execute(async (trx) => {
      const before = await this.getRow(id, trx);
      const set: Partial<NodeTable> = {};
      if (patch.name !== undefined && patch.name !== before.name) {
        if (await nodeNamed(trx, patch.name, id)) {
          throw new ConflictError('node_name_taken', `another node is already named ${patch.name}`, [{ path: 'name', message: 'is already taken by another node' }]);
        }
        set.name = patch.name;
      }
      if (patch.siteId !== undefined && patch.siteId !== before.site_id) {
        const site = await trx.selectFrom('sites').select('id').where('id', '=', patch.siteId).executeTakeFirst();
        if (!site) throw new ValidationError(`site ${patch.siteId} does not exist`, [{ path: 'siteId', message: 'does not exist' }]);
        set.site_id = patch.siteId;
      }
      if (Object.keys(set).length === 0) return nodeToApi(before);
      set.updated_at = this.ctx.now().toISOString();
      await trx.updateTable('nodes').set(set).where('id', '=', id).execute();
      if (set.site_id) await trx.updateTable('routes').set({ site_id: set.site_id }).where('node_id', '=', id).execute();
      const after = { ...before, ...set };
      await audit(trx, this.ctx, actor, 'update', 'node', id, nodeToApi(before), nodeToApi(after));
      return nodeToApi(after);
    });
    this.ctx.events.emit('node', id);
    return node;
  }

  /**
   * Removes a node; its routes are kept, moved to the local node (see node-removal.ts). Its key is revoked so a
   * stale agent cannot come back under the same identity.
   */
  async remove(actor: Actor, id: string): Promise<NodeDeleted> {
    if (id === LOCAL_NODE_ID) throw new ConflictError('local_node', 'the controller\'s local node cannot be deleted');
    const moved = await this.ctx.db.transaction().execute(async (trx) => {
      const before = await this.getRow(id, trx);
      if (before.agent_key_hash) await this.recordRevocation(trx, actor, before);
      const reassigned = await reassignRoutesToLocal(trx, this.ctx, actor, id, before.name);
      await trx.deleteFrom('provisioning_jobs').where('node_id', '=', id).execute();
      await trx.deleteFrom('docker_entries').where('source_node_id', '=', id).execute();
      await trx.deleteFrom('nodes').where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'delete', 'node', id, nodeToApi(before), null);
      return reassigned;
    });
    this.ctx.events.emit('revoked', id);
    if (moved.revision !== null) this.ctx.events.emit('revision', LOCAL_NODE_ID, moved.revision);
    return { reassignedRoutes: moved.routes, uninstall: uninstallCommands() };
  }

  async revoke(actor: Actor, id: string): Promise<FleetNode> {
    if (id === LOCAL_NODE_ID) throw new ConflictError('local_node', 'the controller\'s local node has no agent key to revoke');
    const node = await this.ctx.db.transaction().execute(async (trx) => {
      const before = await this.getRow(id, trx);
      if (!before.agent_key_hash) throw new ConflictError('not_enrolled', `node ${id} has no active agent key`);
      await this.recordRevocation(trx, actor, before);
      const now = this.ctx.now().toISOString();
      const set = { agent_key_hash: null, status: 'offline', last_error: 'agent key revoked', revoked_at: now, updated_at: now };
      await trx.updateTable('nodes').set(set).where('id', '=', id).execute();
      const after = { ...before, ...set };
      await audit(trx, this.ctx, actor, 'revoke', 'node', id, nodeToApi(before), nodeToApi(after));
      return nodeToApi(after);
    });
    this.ctx.events.emit('revoked', id);
    return node;
  }

  private async recordRevocation(trx: Db, actor: Actor, node: NodeTable): Promise<void> {
    if (!node.agent_key_hash) return;
    await trx
      .insertInto('revoked_agent_tokens')
      .values({ key_hash: node.agent_key_hash, node_id: node.id, revoked_at: this.ctx.now().toISOString(), revoked_by: actor.label })
      .onConflict((oc) => oc.column('key_hash').doNothing())
      .execute();
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.ctx.db.selectFrom('nodes').select((eb) => ['status', eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
