/**
 * Throwaway PostgreSQL for integration tests.
 *
 * Design choice: ONE CLUSTER PER TEST FILE, no vitest globalSetup.
 *   initdb + start with fsync=off takes well under a second here, so each test file
 *   that needs PostgreSQL simply does
 *
 *     let pg: PostgresHandle;
 *     beforeAll(async () => { pg = await startPostgres(); });
 *     afterAll(async () => { await pg?.stop(); });
 *
 *   and, to isolate individual tests from each other inside that file,
 *
 *     const url = await createDatabase(pg.url);   // fresh empty DB, random name
 *
 *   Why not globalSetup + provide/inject: it would start PostgreSQL for every
 *   integration run (even when only non-PG files are selected), make a missing
 *   PostgreSQL fail unrelated files, and share one server across parallel workers.
 *   Per-file clusters need no cross-process coordination and are torn down with the file.
 *
 * External server: if CADDYFLEET_TEST_PG_URL is set (postgres://user:pass@host:port/db, the
 * user must be allowed to CREATE DATABASE), no cluster is started; startPostgres() instead
 * creates a fresh database on that server and stop() drops it.
 *
 * Missing binaries: startPostgres() always throws (CI=true: says CI is broken; locally:
 * says how to install). Tests that want to skip locally can check `postgresAvailable()`.
 *
 * Binaries are looked up in $CADDYFLEET_PG_BIN, /usr/lib/postgresql/15/bin, other
 * /usr/lib/postgresql/<ver>/bin (newest first) and finally PATH. When running as root,
 * initdb/pg_ctl are run as the `postgres` OS user via runuser (PostgreSQL refuses root).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findBinary, freePort, isCI } from './processes';

const execFileAsync = promisify(execFile);

export interface PostgresHandle {
  /** postgres://USER:PASS@127.0.0.1:PORT/DB — the role is a superuser (can CREATE DATABASE). */
  url: string;
  /** Stops the cluster (pg_ctl stop -m fast) and deletes its temp dir; idempotent. */
  stop(): Promise<void>;
  /** Port the server listens on (127.0.0.1). */
  port: number;
  /** True when backed by CADDYFLEET_TEST_PG_URL rather than a cluster we started. */
  external: boolean;
  /**
   * Stops the server like an operator would (`pg_ctl stop -m fast`: open connections are terminated) but keeps
   * its data; `resume()` starts it again on the same port. Not available with an external server.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

const PG_USER = 'caddyfleet';
const PG_DB = 'caddyfleet_test';
const EXTERNAL_ENV = 'CADDYFLEET_TEST_PG_URL';

interface PgBinaries {
  initdb: string;
  pgCtl: string;
  dir: string;
}

function findPgBinaries(): PgBinaries | null {
  const candidates: string[] = [];
  if (process.env.CADDYFLEET_PG_BIN) candidates.push(process.env.CADDYFLEET_PG_BIN);
  candidates.push('/usr/lib/postgresql/15/bin');
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    /* no /usr/lib/postgresql */
  }
  for (const dir of candidates) {
    const initdb = join(dir, 'initdb');
    const pgCtl = join(dir, 'pg_ctl');
    if (findBinary(initdb) && findBinary(pgCtl) && existsSync(join(dir, 'postgres'))) {
      return { initdb, pgCtl, dir };
    }
  }
  const initdb = findBinary('initdb');
  const pgCtl = findBinary('pg_ctl');
  if (initdb && pgCtl) return { initdb, pgCtl, dir: '(PATH)' };
  return null;
}

function missingBinariesError(): Error {
  const base =
    'PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/15/bin, ' +
    '/usr/lib/postgresql/*/bin or PATH.';
  if (isCI()) {
    return new Error(
      `${base} CI=true: integration tests require PostgreSQL 15 and must not be skipped; ` +
        '.ci/run installs it with `apt-get install -y --no-install-recommends postgresql`.',
    );
  }
  return new Error(
    `${base} Install it with \`sudo apt-get install -y postgresql\` (Debian 12 ships PostgreSQL 15), ` +
      `or point ${EXTERNAL_ENV} at a server where the user may CREATE DATABASE.`,
  );
}

/** True if an external URL is configured or local PostgreSQL binaries exist. Never throws. */
export function postgresAvailable(): boolean {
  return Boolean(process.env[EXTERNAL_ENV]) || findPgBinaries() !== null;
}

/** Runs a PostgreSQL tool, as the `postgres` OS user when we are root. */
async function runPgTool(bin: string, args: string[], timeoutMs: number): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    const { stdout, stderr } = await execFileAsync(cmd, argv, {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${[cmd, ...argv].join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trimEnd(),
      { cause: err },
    );
  }
}

function postgresOsUser(): { uid: number; gid: number } {
  const out = execFileSync('id', ['postgres'], { encoding: 'utf8' });
  const uid = /uid=(\d+)/.exec(out)?.[1];
  const gid = /gid=(\d+)/.exec(out)?.[1];
  if (uid === undefined || gid === undefined) throw new Error(`cannot parse \`id postgres\`: ${out}`);
  return { uid: Number(uid), gid: Number(gid) };
}

function tail(path: string, max = 4000): string {
  try {
    const s = readFileSync(path, 'utf8');
    return s.length > max ? s.slice(-max) : s;
  } catch {
    return '(no server log)';
  }
}

/** Clusters started by this process, stopped synchronously on exit as a safety net. */
const liveClusters = new Map<string, { pgCtl: string; dataDir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { pgCtl, dataDir } of liveClusters.values()) {
      try {
        const args = ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '10'];
        if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
        else execFileSync(pgCtl, args, { stdio: 'ignore' });
      } catch {
        /* best effort */
      }
    }
  });
}

/**
 * Starts a throwaway PostgreSQL cluster on 127.0.0.1:<free port> (or, with
 * CADDYFLEET_TEST_PG_URL, creates a fresh database there). See the file comment.
 */
export async function startPostgres(): Promise<PostgresHandle> {
  const external = process.env[EXTERNAL_ENV];
  if (external) return startExternal(external);

  const bins = findPgBinaries();
  if (!bins) throw missingBinariesError();

  const asRoot = process.getuid?.() === 0;
  // postgres must be able to traverse to the data dir: use /tmp when switching users.
  const root = await mkdtemp(join(asRoot ? '/tmp' : tmpdir(), 'caddyfleet-pg-'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const pwFile = join(root, 'pw');
  const password = randomBytes(12).toString('hex');

  let started = false;
  const cleanupDir = () => rm(root, { recursive: true, force: true, maxRetries: 3 });

  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (asRoot) {
      const { uid, gid } = postgresOsUser();
      chownSync(root, uid, gid);
      chownSync(pwFile, uid, gid);
    }
    chmodSync(root, 0o700);

    await runPgTool(
      bins.initdb,
      [
        '-D', dataDir,
        '-U', PG_USER,
        `--pwfile=${pwFile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ],
      60_000,
    );
    await rm(pwFile, { force: true });

    // The port is picked before the server binds it; retry on the (rare) collision.
    let port = 0;
    let lastErr: unknown;
    let serverOpts = '';
    for (let attempt = 0; attempt < 3 && !started; attempt++) {
      port = await freePort('127.0.0.1');
      serverOpts = [
        `-p ${port}`,
        `-k ${root}`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=100',
      ].join(' ');
      try {
        await runPgTool(
          bins.pgCtl,
          ['-D', dataDir, '-l', logFile, '-o', serverOpts, '-w', '-t', '60', 'start'],
          90_000,
        );
        started = true;
      } catch (err) {
        lastErr = err;
      }
    }
    if (!started) {
      throw new Error(
        `pg_ctl start failed after 3 attempts: ${lastErr instanceof Error ? lastErr.message : String(lastErr)}\n` +
          `--- server log tail ---\n${tail(logFile)}`,
        { cause: lastErr },
      );
    }
    liveClusters.set(root, { pgCtl: bins.pgCtl, dataDir });
    installExitHook();

    const adminUrl = `postgres://${PG_USER}:${password}@127.0.0.1:${port}/postgres`;
    await exec(adminUrl, `CREATE DATABASE ${quoteIdent(PG_DB)}`);

    let stopped: Promise<void> | undefined;
    let paused = false;
    return {
      url: `postgres://${PG_USER}:${password}@127.0.0.1:${port}/${PG_DB}`,
      port,
      external: false,
      async pause() {
        await runPgTool(bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'fast', '-w', '-t', '60'], 90_000);
        paused = true;
      },
      async resume() {
        await runPgTool(bins.pgCtl, ['-D', dataDir, '-l', logFile, '-o', serverOpts, '-w', '-t', '60', 'start'], 90_000);
        paused = false;
      },
      stop() {
        stopped ??= (async () => {
          try {
            if (!paused) await runPgTool(bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'fast', '-w', '-t', '60'], 90_000);
          } catch (err) {
            // fast shutdown failed (should not happen): do not leave a postmaster behind.
            await runPgTool(bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '30'], 60_000).catch(
              () => undefined,
            );
            throw err;
          } finally {
            liveClusters.delete(root);
            await cleanupDir();
          }
        })();
        return stopped;
      },
    };
  } catch (err) {
    if (started) {
      await runPgTool(bins.pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w', '-t', '30'], 60_000).catch(
        () => undefined,
      );
      liveClusters.delete(root);
    }
    await cleanupDir();
    throw err;
  }
}

async function startExternal(baseUrl: string): Promise<PostgresHandle> {
  const url = await createDatabase(baseUrl);
  const name = new URL(url).pathname.slice(1);
  let stopped: Promise<void> | undefined;
  return {
    url,
    port: Number(new URL(url).port || 5432),
    external: true,
    pause: () => Promise.reject(new Error(`pause() needs a cluster started by the tests, not ${EXTERNAL_ENV}`)),
    resume: () => Promise.reject(new Error(`resume() needs a cluster started by the tests, not ${EXTERNAL_ENV}`)),
    stop() {
      stopped ??= dropDatabase(baseUrl, name);
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------
// databases
// ---------------------------------------------------------------------------

/** Quotes a SQL identifier ("a""b"). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Random lower-case database name, e.g. `t_1a2b3c4d5e6f`. */
export function uniqueDatabaseName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

async function exec(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates a new empty database on the server of `baseUrl` and returns a URL to it
 * (same credentials/host/params, different path). `name` defaults to a random one.
 */
export async function createDatabase(baseUrl: string, name: string = uniqueDatabaseName()): Promise<string> {
  await exec(baseUrl, `CREATE DATABASE ${quoteIdent(name)}`);
  const url = new URL(baseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** Drops a database created by createDatabase (terminating open connections). */
export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  const url = new URL(baseUrl);
  if (decodeURIComponent(url.pathname.slice(1)) === name) url.pathname = '/postgres';
  await exec(url.toString(), `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}
