import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, startPostgres, type PostgresHandle } from './helpers/postgres';

/** Resolves true if something accepts a TCP connection on 127.0.0.1:port. */
function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2_000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('tests/helpers/postgres', () => {
  let handle: PostgresHandle | undefined;

  beforeAll(async () => {
    handle = await startPostgres();
  });

  afterAll(async () => {
    await handle?.stop();
  });

  it('returns a postgres:// URL with credentials on 127.0.0.1', () => {
    const url = new URL(handle!.url);
    expect(url.protocol).toBe('postgres:');
    expect(url.username).not.toBe('');
    expect(url.password).not.toBe('');
    if (!handle!.external) expect(url.hostname).toBe('127.0.0.1');
  });

  it('answers select 1 and requires the password', async () => {
    const rows = await withClient(handle!.url, async (c) => (await c.query('select 1 as one')).rows);
    expect(rows).toEqual([{ one: 1 }]);

    if (!handle!.external) {
      const bad = new URL(handle!.url);
      bad.password = 'wrong';
      await expect(withClient(bad.toString(), (c) => c.query('select 1'))).rejects.toThrow(/password/i);
    }
  });

  it('round-trips a table', async () => {
    await withClient(handle!.url, async (c) => {
      await c.query('create table routes (id serial primary key, host text not null, upstream text not null)');
      await c.query('insert into routes (host, upstream) values ($1, $2), ($3, $4)', [
        'a.example.com',
        '127.0.0.11:8080',
        'b.example.com',
        '127.0.0.12:8080',
      ]);
      const { rows } = await c.query('select host, upstream from routes order by id');
      expect(rows).toEqual([
        { host: 'a.example.com', upstream: '127.0.0.11:8080' },
        { host: 'b.example.com', upstream: '127.0.0.12:8080' },
      ]);
    });
  });

  it('createDatabase gives an isolated empty database', async () => {
    const url = await createDatabase(handle!.url);
    try {
      const count = await withClient(url, async (c) => {
        const { rows } = await c.query<{ n: string }>(
          "select count(*) as n from information_schema.tables where table_schema = 'public'",
        );
        return Number(rows[0]!.n);
      });
      expect(count).toBe(0);
      const db = await withClient(url, async (c) => (await c.query('select current_database() as db')).rows[0].db);
      expect(db).toBe(new URL(url).pathname.slice(1));
    } finally {
      await dropDatabase(handle!.url, new URL(url).pathname.slice(1));
    }
  });

  it('stop() shuts the server down and frees the port', async () => {
    const h = handle!;
    if (!h.external) expect(await portAccepts(h.port)).toBe(true);
    await h.stop();
    handle = undefined;
    if (!h.external) expect(await portAccepts(h.port)).toBe(false);
    await h.stop(); // idempotent
  });
});
