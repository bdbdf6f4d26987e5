import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isStorageFull } from './availability';

const err = (fields: Record<string, unknown>) => Object.assign(new Error(String(fields.message ?? 'x')), fields);

describe('isDatabaseUnavailable', () => {
  it('recognises a server that is away', () => {
    expect(isDatabaseUnavailable(err({ code: '57P01', message: 'terminating connection due to administrator command' }))).toBe(true);
    expect(isDatabaseUnavailable(err({ code: '57P03', message: 'the database system is shutting down' }))).toBe(true);
    expect(isDatabaseUnavailable(err({ code: '08006' }))).toBe(true);
    expect(isDatabaseUnavailable(err({ code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([err({ code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isDatabaseUnavailable(new Error('wrapped', { cause: err({ code: '57P01' }) }))).toBe(true);
  });

  it('leaves query errors alone', () => {
    expect(isDatabaseUnavailable(err({ code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(err({ code: '40001' }))).toBe(false);
    expect(isDatabaseUnavailable(err({ code: 'SQLITE_CONSTRAINT_UNIQUE' }))).toBe(false);
    expect(isDatabaseUnavailable(new Error('syntax error at or near "x"'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});

describe('isStorageFull', () => {
  it('recognises a full disk in both stores', () => {
    expect(isStorageFull(err({ code: 'SQLITE_FULL' }))).toBe(true);
    expect(isStorageFull(err({ code: '53100' }))).toBe(true);
    expect(isStorageFull(err({ code: 'SQLITE_BUSY' }))).toBe(false);
  });
});
