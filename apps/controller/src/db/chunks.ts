/**
 * Cuts rows for multi-row statements into chunks of a few fixed sizes, so the statement texts repeat (and stay
 * prepared, see statement-cache.ts) and stay far below the parameter limits (SQLite 32,766, PostgreSQL 65,535).
 */
const SIZES = [500, 100, 20, 5, 1];

export function fixedChunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (const size of SIZES) {
    while (rows.length - at >= size) {
      out.push(rows.slice(at, at + size));
      at += size;
    }
  }
  return out;
}
