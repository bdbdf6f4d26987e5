/** Plain-text rendering: aligned tables, key/value views and small formatters. */

export interface Writer {
  write(chunk: string): unknown;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `Key:   value` lines, keys aligned. */
export function renderKeyValue(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length + 1));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(width)}  ${v}`).join('\n') + '\n';
}

export function yesNo(v: boolean): string {
  return v ? 'yes' : 'no';
}

export function dash(v: string | number | null | undefined): string {
  return v === null || v === undefined || v === '' ? '-' : String(v);
}

/** `5s ago`, `3m ago`, `2h ago`, `4d ago`, or `never`. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Prints results either as indented JSON (`--json`) or as the given plain-text rendering. */
export class Printer {
  constructor(
    private readonly out: Writer,
    readonly json: boolean,
  ) {}

  /** `render` is only called in plain-text mode. */
  result(data: unknown, render: () => string): void {
    this.out.write(this.json ? JSON.stringify(data, null, 2) + '\n' : render());
  }

  /** A list: JSON array, or a table (or `empty` when there are no rows). */
  list<T>(items: readonly T[], headers: readonly string[], row: (item: T) => string[], empty: string): void {
    this.result(items, () => (items.length === 0 ? empty + '\n' : renderTable(headers, items.map(row))));
  }

  line(text: string): void {
    this.out.write(text + '\n');
  }
}
