import { digestsEqual, newId, randomSecret, sha256 } from '../crypto';
import { AppError, ConflictError, NotFoundError, RateLimitedError, UnauthorizedError } from '../errors';
import { FailureLimiter } from './rate-limiter';
import { audit } from './audit-service';
import { freeNodeName, newNodeRow } from './node-service';
import type { NodeTable } from '../db/schema';
import type { Actor, ServiceContext } from './context';

/**
 * Refusals per client address before its unauthenticated agent requests are answered 429 without looking at
 * them: enrollments (10 per 15 minutes; tokens are single-use, an operator rarely gets one wrong) and WebSocket
 * upgrades with a bad agent key (30 per minute; a real agent stops at the first refusal of its key).
 */
export const AGENT_AUTH_LIMITS = {
  enroll: { max: 10, windowMs: 15 * 60_000 },
  agentKey: { max: 30, windowMs: 60_000 },
};

export class EnrollmentService {
  private readonly enrollFailures = new FailureLimiter(AGENT_AUTH_LIMITS.enroll.max, AGENT_AUTH_LIMITS.enroll.windowMs);
  private readonly keyFailures = new FailureLimiter(AGENT_AUTH_LIMITS.agentKey.max, AGENT_AUTH_LIMITS.agentKey.windowMs);

  constructor(private readonly ctx: ServiceContext) {}

  /** `enroll`, refused with 429 for an address that failed too often lately; failures are counted. */
  async enrollFrom(ip: string, input: { token: string; name: string; hostname: string }): Promise<{ nodeId: string; agentKey: string }> {
    const wait = this.enrollFailures.blockedFor(ip);
    if (wait > 0) throw new RateLimitedError(wait, `too many failed enrollments from this address; retry in ${wait} s`);
    try {
      return await this.enroll(input);
    } catch (err) {
      if (err instanceof AppError && err.status < 500) this.enrollFailures.fail(ip);
      throw err;
    }
  }

  /** `nodeForAgentKey`, refused with 429 for an address that presented too many bad keys lately. */
  async nodeForAgentKeyFrom(ip: string, agentKey: string): Promise<NodeTable> {
    const wait = this.keyFailures.blockedFor(ip);
    if (wait > 0) throw new RateLimitedError(wait, `too many refused agent keys from this address; retry in ${wait} s`);
    try {
      return await this.nodeForAgentKey(agentKey);
    } catch (err) {
      if (err instanceof AppError && err.status < 500) this.keyFailures.fail(ip);
      throw err;
    }
  }

  async createToken(actor: Actor, siteId: string, ttlSeconds: number) {
    const site = await this.ctx.db.selectFrom('sites').select('id').where('id', '=', siteId).executeTakeFirst();
    if (!site) throw new NotFoundError('site', siteId);
    const token = randomSecret('cfe');
    const now = this.ctx.now();
    const row = {
      id: newId('enr'),
      site_id: siteId,
      token_hash: sha256(token),
      expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      used_at: null,
      used_by_node_id: null,
      revoked_at: null,
      created_by: actor.label,
      created_at: now.toISOString(),
    };
    await this.ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('enrollment_tokens').values(row).execute();
      await audit(trx, this.ctx, actor, 'create', 'enrollment_token', row.id, null, { id: row.id, siteId, expiresAt: row.expires_at });
    });
    return { id: row.id, token, expiresAt: row.expires_at };
  }

  async listTokens(siteId: string) {
    const rows = await this.ctx.db.selectFrom('enrollment_tokens').selectAll().where('site_id', '=', siteId).orderBy('created_at', 'desc').execute();
    return rows.map((r) => ({ id: r.id, siteId: r.site_id, expiresAt: r.expires_at, usedAt: r.used_at, usedByNodeId: r.used_by_node_id, revokedAt: r.revoked_at, createdAt: r.created_at }));
  }

  async revokeToken(actor: Actor, id: string): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('enrollment_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new NotFoundError('enrollment token', id);
      if (row.revoked_at) return;
      if (row.used_at) {
        throw new ConflictError('enrollment_token_used', `this token was already used by node ${row.used_by_node_id}; revoke that node instead`);
      }
      await trx.updateTable('enrollment_tokens').set({ revoked_at: this.ctx.now().toISOString() }).where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'revoke', 'enrollment_token', id, { usedAt: row.used_at }, { revoked: true });
    });
  }

  /**
   * Spends a single-use token (looked up by its hash, never by scanning) and creates the node. The token is
   * marked used with a conditional update, so two agents racing with the same token cannot both enroll.
   */
  async enroll(input: { token: string; name: string; hostname: string }): Promise<{ nodeId: string; agentKey: string }> {
    const hash = sha256(input.token);
    const agentKey = randomSecret('cfa');
    const nodeId = newId('node');
    await this.ctx.db.transaction().execute(async (trx) => {
      const tok = await trx.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
      if (!tok || !digestsEqual(tok.token_hash, hash)) throw new UnauthorizedError('enrollment_token_invalid', 'unknown enrollment token');
      if (tok.revoked_at) throw new UnauthorizedError('enrollment_token_revoked', 'this enrollment token was revoked');
      if (tok.used_at) throw new UnauthorizedError('enrollment_token_used', 'this enrollment token was already used');
      const now = this.ctx.now().toISOString();
      if (tok.expires_at <= now) throw new UnauthorizedError('enrollment_token_expired', 'this enrollment token has expired');
      const spent = await trx
        .updateTable('enrollment_tokens')
        .set({ used_at: now, used_by_node_id: nodeId })
        .where('id', '=', tok.id)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) throw new UnauthorizedError('enrollment_token_used', 'this enrollment token was already used');
      const name = await freeNodeName(trx, input.name);
      const node = newNodeRow({ id: nodeId, site_id: tok.site_id, name, hostname: input.hostname.toLowerCase(), is_local: 0, agent_key_hash: sha256(agentKey) }, now);
      await trx.insertInto('nodes').values(node).execute();
      await audit(trx, this.ctx, { kind: 'agent', id: nodeId, label: `agent ${name}`, role: 'viewer' }, 'enroll', 'node', nodeId, null, {
        id: nodeId,
        name,
        hostname: node.hostname,
        siteId: tok.site_id,
        enrollmentTokenId: tok.id,
      });
    });
    this.ctx.events.emit('node', nodeId);
    return { nodeId, agentKey };
  }

  /** Resolves an agent key to its node; a revoked key gets a distinct code so the agent can stop retrying. */
  async nodeForAgentKey(agentKey: string): Promise<NodeTable> {
    if (!/^cfa_[A-Za-z0-9_-]{20,100}$/.test(agentKey)) throw new UnauthorizedError('agent_key_invalid', 'malformed agent key');
    const hash = sha256(agentKey);
    const revoked = await this.ctx.db.selectFrom('revoked_agent_tokens').select('key_hash').where('key_hash', '=', hash).executeTakeFirst();
    if (revoked) throw new UnauthorizedError('agent_key_revoked', 'this agent key was revoked; enroll again with a new token');
    const node = await this.ctx.db.selectFrom('nodes').selectAll().where('agent_key_hash', '=', hash).executeTakeFirst();
    if (!node || !node.agent_key_hash || !digestsEqual(node.agent_key_hash, hash)) {
      throw new UnauthorizedError('agent_key_invalid', 'unknown agent key');
    }
    return node;
  }
}
