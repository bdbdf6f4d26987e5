/**
 * Node-row updates of many nodes as a few multi-row statements, the same SQL on SQLite and PostgreSQL:
 * `UPDATE nodes SET … FROM (VALUES …) AS v WHERE nodes.id = v.column1`. Rows are grouped by the set of columns
 * they change and cut into chunks of fixed sizes.
 */
import { CompiledQuery } from 'kysely';
import { fixedChunks } from '../db/chunks';
import type { Dialect } from '../db/connect';
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
  upstream_health: 'TEXT',
  upstream_health_at: 'TEXT',
} as const satisfies Partial<Record<keyof NodeTable, string>>;
type Column = keyof typeof TYPES;
export type NodeStatusUpdate = Partial<Pick<NodeTable, Column>>;
const ORDER = Object.keys(TYPES) as Column[];

/** Statement texts by dialect, column set and row count: a handful, built once. */
const texts = new Map<string, string>();

function text(dialect: Dialect, columns: Column[], rows: number): string {
  const key = `${dialect} ${columns.join(',')} ${rows}`;
  let out = texts.get(key);
  if (out === undefined) {
    let n = 0;
    const p = () => (dialect === 'postgres' ? `$${++n}` : '?');
    const sets = columns.map((c, i) => `${c} = v.column${i + 2}`).join(', ');
    const updatedAt = p();
    const row = () => `(CAST(${p()} AS TEXT), ${columns.map((c) => `CAST(${p()} AS ${TYPES[c]})`).join(', ')})`;
    const values = Array.from({ length: rows }, row).join(', ');
    out = `UPDATE nodes SET ${sets}, updated_at = ${updatedAt} FROM (VALUES ${values}) AS v WHERE nodes.id = v.column1 AND nodes.revoked_at IS NULL`;
    texts.set(key, out);
  }
  return out;
}

/** The statements for one flush, compiled here (Kysely's compiler would visit thousands of parameter nodes each time). */
export function updateNodesSql(batch: Map<string, NodeStatusUpdate>, now: string, dialect: Dialect): CompiledQuery[] {
  const groups = new Map<string, { columns: Column[]; rows: [string, NodeStatusUpdate][] }>();
  for (const [id, update] of batch) {
    const columns = ORDER.filter((c) => update[c] !== undefined);
    if (columns.length === 0) continue;
    const key = columns.join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { columns, rows: [] }));
    g.rows.push([id, update]);
  }
  const out: CompiledQuery[] = [];
  for (const { columns, rows } of groups.values()) {
    for (const chunk of fixedChunks(rows)) {
      const params: unknown[] = [now];
      for (const [id, u] of chunk) {
        params.push(id);
        for (const c of columns) params.push(u[c] ?? null);
      }
      out.push(CompiledQuery.raw(text(dialect, columns, chunk.length), params));
    }
  }
  return out;
}
