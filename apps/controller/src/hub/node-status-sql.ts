/**
 * Node-row updates of many nodes as a few multi-row statements, the same SQL on SQLite and PostgreSQL:
 * `UPDATE nodes SET … FROM (VALUES …) AS v WHERE nodes.id = v.column1`. Rows are grouped by the set of columns
 * they change and cut into chunks of fixed sizes.
 */
import { sql, type RawBuilder } from 'kysely';
import { fixedChunks } from '../db/chunks';
import type { NodeTable } from '../db/schema';

type Column = 'status' | 'caddy_version' | 'agent_version' | 'last_seen_at' | 'route_count' | 'cert_count' | 'applied_revision' | 'last_error';
export type NodeStatusUpdate = Partial<Pick<NodeTable, Column>>;

/** Column types for the casts PostgreSQL needs on VALUES parameters (SQLite accepts the same names). */
const TYPES: Record<Column, string> = {
  status: 'TEXT',
  caddy_version: 'TEXT',
  agent_version: 'TEXT',
  last_seen_at: 'TEXT',
  route_count: 'INTEGER',
  cert_count: 'INTEGER',
  applied_revision: 'BIGINT',
  last_error: 'TEXT',
};
const ORDER = Object.keys(TYPES) as Column[];

function statement(columns: Column[], rows: [string, NodeStatusUpdate][], now: string): RawBuilder<unknown> {
  const values = rows.map(
    ([id, u]) => sql`(CAST(${id} AS TEXT), ${sql.join(columns.map((c) => sql`CAST(${u[c] ?? null} AS ${sql.raw(TYPES[c])})`))})`,
  );
  const sets = columns.map((c, i) => sql`${sql.raw(c)} = v.${sql.raw(`column${i + 2}`)}`);
  return sql`UPDATE nodes SET ${sql.join(sets)}, updated_at = ${now} FROM (VALUES ${sql.join(values)}) AS v WHERE nodes.id = v.column1 AND nodes.revoked_at IS NULL`;
}

export function updateNodesSql(batch: Map<string, NodeStatusUpdate>, now: string): RawBuilder<unknown>[] {
  const groups = new Map<string, { columns: Column[]; rows: [string, NodeStatusUpdate][] }>();
  for (const [id, update] of batch) {
    const columns = ORDER.filter((c) => update[c] !== undefined);
    if (columns.length === 0) continue;
    const key = columns.join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { columns, rows: [] }));
    g.rows.push([id, update]);
  }
  const out: RawBuilder<unknown>[] = [];
  for (const { columns, rows } of groups.values()) for (const chunk of fixedChunks(rows)) out.push(statement(columns, chunk, now));
  return out;
}
