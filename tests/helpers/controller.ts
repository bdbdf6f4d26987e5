import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, startController, type RunningController } from '../../apps/controller/src/index';
import { createDatabase, startPostgres, type PostgresHandle } from './postgres';
import { tempDir, type TempDir } from './processes';

export type StoreKind = 'sqlite' | 'postgres';
export const STORES: StoreKind[] = ['sqlite', 'postgres'];
export const ADMIN_PASSWORD = 'test-admin-password-123';

/** One throwaway store (a SQLite data dir or a fresh PostgreSQL database) that can outlive controller restarts. */
export class TestStore {
  private constructor(
    readonly kind: StoreKind,
    readonly dir: TempDir,
    readonly databaseUrl: string | undefined,
    private readonly pg: PostgresHandle | null,
  ) {}

  static async create(kind: StoreKind, pg?: PostgresHandle): Promise<TestStore> {
    const dir = await tempDir('cf-ctl-');
    if (kind === 'sqlite') return new TestStore(kind, dir, undefined, null);
    const server = pg ?? (await startPostgres());
    return new TestStore(kind, dir, await createDatabase(server.url), pg ? null : server);
  }

  async start(flags: Record<string, string> = {}): Promise<TestController> {
    const config = loadConfig(
      'standalone',
      { listen: '127.0.0.1:0', dataDir: this.dir.path, databaseUrl: this.databaseUrl, adminPassword: ADMIN_PASSWORD, logLevel: 'silent', ...flags },
      {},
    );
    return new TestController(await startController(config, { listen: false, announce: () => {} }));
  }

  async dispose(): Promise<void> {
    await this.pg?.stop();
    await this.dir.cleanup();
  }
}

export interface Reply {
  status: number;
  body: any;
  headers: LightMyRequestResponse['headers'];
}

/** A controller driven in-process through Fastify's `inject`, with convenience logins. */
export class TestController {
  constructor(readonly c: RunningController) {}

  get db() {
    return this.c.store.db;
  }

  async request(method: InjectOptions['method'], url: string, opts: { body?: unknown; headers?: Record<string, string>; payload?: string } = {}): Promise<Reply> {
    const res = await this.c.app.inject({
      method,
      url: url.startsWith('/api') || url.startsWith('/healthz') || url.startsWith('/metrics') ? url : `/api/v1${url}`,
      headers: opts.headers,
      ...(opts.payload !== undefined ? { payload: opts.payload } : opts.body !== undefined ? { payload: opts.body as object } : {}),
    });
    let body: unknown = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : null;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.statusCode, body, headers: res.headers };
  }

  /** Logs in and returns headers carrying the session cookie. */
  async login(username = 'admin', password = ADMIN_PASSWORD): Promise<Record<string, string>> {
    const res = await this.request('POST', '/auth/login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    const cookie = String(res.headers['set-cookie']).split(';')[0]!;
    return { cookie };
  }

  /** Requests as the dashboard sends them (which marks its requests with X-Requested-With, see http/csrf.ts). */
  client(session: Record<string, string>) {
    const headers = { 'x-requested-with': 'caddyfleet', ...session };
    return {
      get: (url: string) => this.request('GET', url, { headers }),
      post: (url: string, body?: unknown) => this.request('POST', url, { headers, body }),
      patch: (url: string, body?: unknown) => this.request('PATCH', url, { headers, body }),
      del: (url: string) => this.request('DELETE', url, { headers }),
    };
  }

  close(): Promise<void> {
    return this.c.close();
  }
}

/** Every row of every table, for asserting that a rejected request changed nothing. */
export async function snapshot(t: TestController): Promise<string> {
  const tables = ['tenants', 'organizations', 'sites', 'nodes', 'routes', 'route_domains', 'route_listens', 'enrollment_tokens', 'revoked_agent_tokens', 'users', 'api_tokens', 'audit_log'] as const;
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    out[table] = await t.db.selectFrom(table).selectAll().execute();
    out[table]!.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return JSON.stringify(out);
}
