import type { UserRole } from '@caddyfleet/protocol';
import { hashPassword, verifyPassword } from '../crypto';
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from '../errors';
import { audit } from './audit-service';
import type { AuthService } from './auth-service';
import type { Actor, ServiceContext } from './context';

/** The public id of a session: a prefix of its hash, enough to name it, useless to sign in with. */
const SESSION_ID_HEX = 24;
export const sessionIdOf = (hash: string) => `ses_${hash.slice(0, SESSION_ID_HEX)}`;
const hashPrefixOf = (id: string) => (/^ses_[0-9a-f]{24}$/.test(id) ? id.slice(4) : null);

/**
 * Accounts after they exist: changing one's own password, an admin resetting, re-roling or removing a user,
 * and listing and ending dashboard sessions. Every change that ends sessions or tokens announces them
 * (`credentials`), so open event streams that used them end too.
 */
export class AccountService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly auth: AuthService,
  ) {}

  /** Checks the current password (throttled like a login), sets the new one and ends the user's other sessions. */
  async changePassword(actor: Actor, ip: string, current: string, next: string): Promise<{ endedSessions: number }> {
    const userId = await this.auth.userIdOf(actor);
    const user = await this.ctx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw new NotFoundError('user', userId);
    const wait = this.auth.throttle.attempt(ip, user.username);
    if (wait > 0) throw new RateLimitedError(wait);
    if (!(await verifyPassword(current, user.password_hash))) {
      throw new ValidationError('the current password is wrong', [{ path: 'currentPassword', message: 'is wrong' }]);
    }
    this.auth.throttle.succeeded(ip, user.username);
    const hash = await hashPassword(next);
    const ended = await this.ctx.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
      let others = trx.selectFrom('sessions').select('id_hash').where('user_id', '=', userId);
      if (actor.session) others = others.where('id_hash', '!=', actor.session);
      const hashes = (await others.execute()).map((r) => r.id_hash);
      if (hashes.length) await trx.deleteFrom('sessions').where('id_hash', 'in', hashes).execute();
      await audit(trx, this.ctx, actor, 'update', 'user', userId, null, { id: userId, username: user.username, passwordChanged: true, endedSessions: hashes.length });
      return hashes;
    });
    if (ended.length) this.ctx.events.emit('credentials', { sessions: ended });
    return { endedSessions: ended.length };
  }

  /** An admin sets another password (ending all of the user's sessions) and/or another role. */
  async updateUser(actor: Actor, id: string, patch: { password?: string | undefined; role?: UserRole | undefined }) {
    const hash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
    const { user, ended } = await this.ctx.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw new NotFoundError('user', id);
      if (patch.role && patch.role !== 'admin' && before.role === 'admin') await this.keepAnAdmin(trx, id);
      const set: { password_hash?: string; role?: string } = {};
      if (hash) set.password_hash = hash;
      if (patch.role) set.role = patch.role;
      await trx.updateTable('users').set(set).where('id', '=', id).execute();
      let hashes: string[] = [];
      if (hash) {
        hashes = (await trx.selectFrom('sessions').select('id_hash').where('user_id', '=', id).execute()).map((r) => r.id_hash);
        await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      }
      const after = { id, username: before.username, role: set.role ?? before.role, createdAt: before.created_at };
      await audit(trx, this.ctx, actor, 'update', 'user', id, { id, username: before.username, role: before.role }, { ...after, ...(hash ? { passwordReset: true } : {}) });
      return { user: after as { id: string; username: string; role: UserRole; createdAt: string }, ended: hashes };
    });
    // A role change applies to the next request of every session and token; a new password ends the sessions.
    if (ended.length) this.ctx.events.emit('credentials', { sessions: ended });
    return user;
  }

  /** Removes a user with their sessions and API tokens. The last admin cannot be removed. */
  async deleteUser(actor: Actor, id: string): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      if (!before) throw new NotFoundError('user', id);
      if (before.role === 'admin') await this.keepAnAdmin(trx, id);
      await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
      await trx.deleteFrom('api_tokens').where('user_id', '=', id).execute();
      await trx.deleteFrom('users').where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'delete', 'user', id, { id, username: before.username, role: before.role }, null);
    });
    this.ctx.events.emit('credentials', { users: [id] });
  }

  /** Live sessions, newest first: one user's, or everyone's (userId null). */
  async listSessions(userId: string | null, currentHash: string | undefined) {
    let q = this.ctx.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id_hash', 'sessions.user_id', 'sessions.created_at', 'sessions.expires_at', 'users.username'])
      .where('sessions.expires_at', '>', this.ctx.now().toISOString())
      .orderBy('sessions.created_at', 'desc');
    if (userId) q = q.where('sessions.user_id', '=', userId);
    return (await q.execute()).map((r) => ({
      id: sessionIdOf(r.id_hash),
      userId: r.user_id,
      username: r.username,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      current: r.id_hash === currentHash,
    }));
  }

  /** Ends a session; `ownerId` limits it to that user's own sessions (non-admins). */
  async revokeSession(actor: Actor, id: string, ownerId: string | null): Promise<void> {
    const prefix = hashPrefixOf(id);
    if (!prefix) throw new NotFoundError('session', id);
    const ended = await this.ctx.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('sessions').select(['id_hash', 'user_id']).where('id_hash', 'like', `${prefix}%`);
      if (ownerId) q = q.where('user_id', '=', ownerId);
      const row = await q.executeTakeFirst();
      if (!row) throw new NotFoundError('session', id);
      await trx.deleteFrom('sessions').where('id_hash', '=', row.id_hash).execute();
      await audit(trx, this.ctx, actor, 'revoke', 'session', id, { id, userId: row.user_id }, null);
      return row.id_hash;
    });
    this.ctx.events.emit('credentials', { sessions: [ended] });
  }

  private async keepAnAdmin(trx: ServiceContext['db'], leaving: string): Promise<void> {
    const others = await trx.selectFrom('users').select('id').where('role', '=', 'admin').where('id', '!=', leaving).limit(1).execute();
    if (others.length === 0) throw new ConflictError('last_admin', 'this is the last admin; make another user admin first');
  }
}
