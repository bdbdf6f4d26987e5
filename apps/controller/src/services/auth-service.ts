import type { UserRole } from '@caddyfleet/protocol';
import { digestsEqual, generatePassword, hashPassword, newId, randomSecret, sha256, verifyPassword } from '../crypto';
import { ConflictError, NotFoundError, RateLimitedError, UnauthorizedError, isUniqueViolation } from '../errors';
import { audit } from './audit-service';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from './context';
import { LoginThrottle } from './rate-limiter';

export interface AuthOptions {
  loginMaxAttempts: number;
  loginWindowSeconds: number;
  sessionTtlHours: number;
}

const userToApi = (u: { id: string; username: string; role: string; created_at: string }) => ({
  id: u.id,
  username: u.username,
  role: u.role as UserRole,
  createdAt: u.created_at,
});

/** A scrypt hash to compare against when the user does not exist, so timing does not reveal valid usernames. */
let dummyHash: Promise<string> | null = null;

export class AuthService {
  /** Shared by login and password changes: both check a password. */
  readonly throttle: LoginThrottle;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: AuthOptions,
  ) {
    this.throttle = new LoginThrottle(opts.loginMaxAttempts, opts.loginWindowSeconds * 1000);
  }

  /** Creates `admin` on first start. Returns the generated password when none was configured, to print once. */
  async ensureAdmin(configured: string | undefined): Promise<{ created: boolean; generatedPassword: string | null }> {
    const any = await this.ctx.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (any) return { created: false, generatedPassword: null };
    const password = configured ?? generatePassword();
    await this.createUser(SYSTEM_ACTOR, { username: 'admin', password, role: 'admin' });
    return { created: true, generatedPassword: configured ? null : password };
  }

  async createUser(actor: Actor, input: { username: string; password: string; role: UserRole }) {
    const row = {
      id: newId('usr'),
      username: input.username,
      password_hash: await hashPassword(input.password),
      role: input.role,
      created_at: this.ctx.now().toISOString(),
    };
    try {
      await this.ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(row).execute();
        await audit(trx, this.ctx, actor, 'create', 'user', row.id, null, userToApi(row));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('username_taken', `user ${input.username} already exists`);
      throw err;
    }
    return userToApi(row);
  }

  async listUsers() {
    return (await this.ctx.db.selectFrom('users').selectAll().orderBy('username').execute()).map(userToApi);
  }

  /** Checks a password with per-user-and-address throttling (see LoginThrottle); returns a new session secret. */
  async login(ip: string, username: string, password: string): Promise<{ sessionSecret: string; user: ReturnType<typeof userToApi> }> {
    // Counted before the slow part (lookup and scrypt), so attempts sent in parallel cannot all slip through.
    const wait = this.throttle.attempt(ip, username);
    if (wait > 0) throw new RateLimitedError(wait);
    const user = await this.ctx.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    dummyHash ??= hashPassword(generatePassword());
    const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash));
    if (!user || !ok) throw new UnauthorizedError('invalid_credentials', 'wrong username or password');
    this.throttle.succeeded(ip, username);
    const sessionSecret = randomSecret('cfs');
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('sessions')
      .values({
        id_hash: sha256(sessionSecret),
        user_id: user.id,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.opts.sessionTtlHours * 3600_000).toISOString(),
      })
      .execute();
    return { sessionSecret, user: userToApi(user) };
  }

  async logout(sessionSecret: string): Promise<void> {
    const hash = sha256(sessionSecret);
    await this.ctx.db.deleteFrom('sessions').where('id_hash', '=', hash).execute();
    this.ctx.events.emit('credentials', { sessions: [hash] });
  }

  async actorFromSession(sessionSecret: string): Promise<Actor | null> {
    const hash = sha256(sessionSecret);
    const row = await this.ctx.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id_hash', 'sessions.expires_at', 'users.id', 'users.username', 'users.role'])
      .where('sessions.id_hash', '=', hash)
      .executeTakeFirst();
    if (!row || !digestsEqual(row.id_hash, hash) || row.expires_at <= this.ctx.now().toISOString()) return null;
    return { kind: 'user', id: row.id, label: row.username, role: row.role as UserRole, userId: row.id, session: hash };
  }

  async actorFromApiToken(secret: string): Promise<Actor | null> {
    const hash = sha256(secret);
    const row = await this.ctx.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.id as tokenId', 'api_tokens.name', 'api_tokens.token_hash', 'api_tokens.last_used_at', 'users.id as userId', 'users.username', 'users.role'])
      .where('api_tokens.token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || !digestsEqual(row.token_hash, hash)) return null;
    const now = this.ctx.now();
    // Touch last-used at most once a minute: a busy script should not turn every read into a write.
    if (!row.last_used_at || now.getTime() - Date.parse(row.last_used_at) > 60_000) {
      // Bookkeeping: a full disk or a busy database must not fail the request it rides on; the next one retries.
      await this.ctx.db
        .updateTable('api_tokens')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', row.tokenId)
        .execute()
        .catch(() => undefined);
    }
    return { kind: 'token', id: row.tokenId, label: `${row.username} (token ${row.name})`, role: row.role as UserRole, userId: row.userId };
  }

  async createApiToken(actor: Actor, userId: string, name: string): Promise<{ id: string; token: string }> {
    const token = randomSecret('cft');
    const row = { id: newId('tok'), user_id: userId, name, token_hash: sha256(token), created_at: this.ctx.now().toISOString(), last_used_at: null };
    await this.ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('api_tokens').values(row).execute();
      await audit(trx, this.ctx, actor, 'create', 'api_token', row.id, null, { id: row.id, name, userId });
    });
    return { id: row.id, token };
  }

  async listApiTokens(userId: string | null) {
    let q = this.ctx.db.selectFrom('api_tokens').select(['id', 'name', 'user_id', 'created_at', 'last_used_at']).orderBy('created_at');
    if (userId) q = q.where('user_id', '=', userId);
    return (await q.execute()).map((r) => ({ id: r.id, name: r.name, userId: r.user_id, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
  }

  /** Admins may revoke any token; others only their own. */
  async revokeApiToken(actor: Actor, id: string, ownerId: string | null): Promise<void> {
    await this.ctx.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('api_tokens').select(['id', 'name', 'user_id']).where('id', '=', id);
      if (ownerId) q = q.where('user_id', '=', ownerId);
      const row = await q.executeTakeFirst();
      if (!row) throw new NotFoundError('token', id);
      await trx.deleteFrom('api_tokens').where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'delete', 'api_token', id, { id, name: row.name, userId: row.user_id }, null);
    });
    this.ctx.events.emit('credentials', { tokens: [id] });
  }

  async userIdOf(actor: Actor): Promise<string> {
    if (actor.userId) return actor.userId;
    if (actor.kind === 'user') return actor.id;
    const row = await this.ctx.db.selectFrom('api_tokens').select('user_id').where('id', '=', actor.id).executeTakeFirst();
    if (!row) throw new UnauthorizedError();
    return row.user_id;
  }
}
