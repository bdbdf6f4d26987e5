/**
 * Prepared statements kept across queries. Kysely prepares every query from scratch (better-sqlite3 `prepare`,
 * an unnamed PostgreSQL parse), which on the hot paths (agent connects, heartbeats, route writes) cost more
 * than running the query. Both caches are keyed by the SQL text and bounded, because some queries are built
 * with a varying number of parameters (`in (…)`, multi-row inserts).
 */
import { createHash } from 'node:crypto';
import type SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

const SQLITE_CACHE_SIZE = 1000;
const PG_NAMED_LIMIT = 2000;

/** better-sqlite3 behind Kysely's SqliteDialect, with a least-recently-used cache of prepared statements. */
export function cachedSqlite(db: SqliteDatabase.Database, size = SQLITE_CACHE_SIZE): KyselySqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        // Map keeps insertion order: re-inserting marks the entry as most recently used.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql) as unknown as SqliteStatement;
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/**
 * A pg pool whose clients run parameterised queries as named prepared statements: PostgreSQL parses and plans
 * each distinct SQL text once per connection. The name is derived from the text, so one name never stands for
 * two statements; past `limit` distinct texts, new ones run unnamed as before.
 */
export function namedStatementPool(pool: pg.Pool, limit = PG_NAMED_LIMIT): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (sql: string): string | undefined => {
    let name = names.get(sql);
    if (name === undefined && names.size < limit) {
      name = `cf_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
      names.set(sql, name);
    }
    return name;
  };
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let w = wrappers.get(client);
    if (!w) {
      w = {
        query: ((sqlOrCursor: unknown, parameters?: ReadonlyArray<unknown>) => {
          if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never);
          const name = parameters && parameters.length > 0 ? nameOf(sqlOrCursor) : undefined;
          return name
            ? client.query({ name, text: sqlOrCursor, values: [...parameters!] })
            : client.query(sqlOrCursor, parameters ? [...parameters] : undefined);
        }) as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy),
      };
      wrappers.set(client, w);
    }
    return w;
  };
  return {
    connect: async () => wrap(await pool.connect()),
    end: () => pool.end(),
  };
}
