import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, type Driver } from 'kysely';
import type { Database } from './schema';
import { cachedSqlite, namedStatementPool } from './statement-cache';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;

export interface OpenDatabase {
  db: Db;
  dialect: Dialect;
  /** Path of the SQLite file, when that is the store. */
  sqlitePath: string | null;
  /** The SQLite handle itself (pragmas, checks that must not queue behind a transaction); null on PostgreSQL. */
  sqlite: SqliteDatabase.Database | null;
  /** Throws when the database cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** A pooled PostgreSQL connection broke outside a query (server restart, terminated backend, network). */
  onConnectionError?: (err: Error) => void;
  /** Told what was tightened (data dir or database file modes). */
  onNotice?: (message: string) => void;
}

export class DataDirError extends Error {}

/**
 * SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR); Kysely's own ROLLBACK
 * then fails with "no transaction is active" and that error would replace the one that matters.
 */
class OwnRollbackSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: SqliteDatabase.Database) {
    super({ database: cachedSqlite(sqlite) });
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      if (this.sqlite.inTransaction) await rollback(connection);
    };
    return driver;
  }
}

/**
 * The data dir holds the database (password hashes, token hashes, the whole fleet): only its owner may enter
 * it. An existing looser dir is tightened to 0700, or refused when that is not possible.
 */
function secureDataDir(dir: string, notice: (m: string) => void): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new DataDirError(`the data directory ${dir} is not a directory`);
  if ((st.mode & 0o077) === 0) return;
  const was = (st.mode & 0o777).toString(8).padStart(4, '0');
  try {
    fs.chmodSync(dir, 0o700);
  } catch (err) {
    throw new DataDirError(
      `the data directory ${dir} is open to other users (mode ${was}) and could not be changed to 0700 (${(err as NodeJS.ErrnoException).code ?? String(err)}); run \`chmod 700 ${dir}\` as its owner, or choose another --data-dir`,
    );
  }
  notice(`the data directory ${dir} was open to other users (mode ${was}); changed it to 0700`);
}

/** The database file and its companions (-wal, -shm, backups) readable by the owner only. */
export function secureDatabaseFiles(dir: string, base: string, notice: (m: string) => void): void {
  for (const name of fs.readdirSync(dir)) {
    if (name !== base && !name.startsWith(`${base}-`) && !name.startsWith(`${base}.bak-`)) continue;
    const file = path.join(dir, name);
    const st = fs.lstatSync(file);
    if (!st.isFile() || (st.mode & 0o077) === 0) continue;
    fs.chmodSync(file, 0o600);
    notice(`${file} was readable by other users; changed it to 0600`);
  }
}

/** int8 (counts, revisions) as JS numbers; revisions stay far below 2^53. */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export function openDatabase(opts: OpenOptions): OpenDatabase {
  if (opts.databaseUrl) {
    // Without a connect timeout a request would hang for as long as the server does not answer.
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10, connectionTimeoutMillis: 5000, types: pgTypes as pg.CustomTypesConfig });
    const onError = (err: Error) => opts.onConnectionError?.(err);
    // An 'error' event nobody listens to ends the process. The pool emits it for idle clients; a client that is
    // checked out (between statements of a transaction) emits it itself. Broken clients are dropped from the
    // pool and new ones are made on demand, so the controller reconnects by itself once the server is back.
    pool.on('error', onError);
    pool.on('connect', (client) => client.on('error', onError));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namedStatementPool(pool) }) });
    return {
      db,
      dialect: 'postgres',
      sqlitePath: null,
      sqlite: null,
      ping: async () => void (await pool.query('select 1')),
      close: () => db.destroy(),
    };
  }
  const notice = opts.onNotice ?? (() => {});
  secureDataDir(opts.dataDir, notice);
  const file = path.join(opts.dataDir, 'caddyfleet.db');
  // Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the database file's mode.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  secureDatabaseFiles(opts.dataDir, 'caddyfleet.db', notice);
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const db = new Kysely<Database>({ dialect: new OwnRollbackSqliteDialect(sqlite) });
  return {
    db,
    dialect: 'sqlite',
    sqlitePath: file,
    sqlite,
    // The handle directly: a ping must not wait behind a long transaction holding Kysely's connection.
    ping: async () => void sqlite.prepare('select 1').get(),
    close: () => db.destroy(),
  };
}
