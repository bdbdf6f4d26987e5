/** Plain-text tables for the benchmark report (no colours, so the output can be pasted anywhere). */

export type Cell = string | number;

function render(headers: readonly string[], rows: readonly (readonly Cell[])[], leftCols: ReadonlySet<number>): string {
  const text = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (leftCols.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), sep, ...text.map(line)].join('\n');
}

/** Prints a titled table; the first column (and any column named "note") is left-aligned, the others right-aligned. */
export function printTable(title: string, headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  const left = new Set<number>([0]);
  headers.forEach((h, i) => h === 'note' && left.add(i));
  process.stdout.write(`\n${title}\n${'='.repeat(title.length)}\n${render(headers, rows, left)}\n`);
}

/** A two-column "what / value" table with an optional third note column. */
export function printKeyValues(title: string, rows: readonly (readonly [string, Cell] | readonly [string, Cell, string])[]): void {
  const hasNote = rows.some((r) => r.length === 3);
  printTable(
    title,
    hasNote ? ['metric', 'value', 'note'] : ['metric', 'value'],
    rows.map((r) => (hasNote ? [r[0], r[1], (r as readonly Cell[])[2] ?? ''] : [r[0], r[1]])),
  );
}

export function note(text: string): void {
  process.stdout.write(`${text}\n`);
}
