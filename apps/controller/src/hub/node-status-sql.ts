/**
 * Node-row updates of many nodes as a few multi-row statements, the same SQL on SQLite and PostgreSQL:
 * `UPDATE nodes SET … FROM (VALUES …) AS v WHERE nodes.id = v.column1`. Rows are grouped by the set of columns
 * they change and cut into chunks of fixed sizes.
 */
import { sql, type RawBuilder } from 'kysely';
import { fixedChunks } from '../db/chunks';
import type { NodeTable } from '../db/schema';

/**
 * Every column a status write may set, with the type PostgreSQL needs for the casts of VALUES parameters
 * (SQLite accepts the same names). A column missing here cannot be written: the writer's update type is derived
 * from this table.
 */
const TYPES = {
  status: 'TEXT',
  caddy_version: 'TEXT',
  agent_version: 'TEXT',
  last_seen_at: 'TEXT',
  route_count: 'INTEGER',
  cert_count: 'INTEGER',
  applied_revision: 'BIGINT',
  last_error: 'TEXT',
  caddy_modules: 'TEXT',
  http_port: 'INTEGER',
  https_port: 'INTEGER',
  certificates: 'TEXT',
  certificates_at: 'TEXT',
  layer4: 'INTEGER',
} as const satisfies Partial<Record<keyof NodeTable, string>>;
type Column = keyof typeof TYPES;
export type NodeStatusUpdate = Partial<Pick<NodeTable, Column>>;
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
