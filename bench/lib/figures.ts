/**
 * The headline figures of issue 11, recorded by the scenarios and printed together at the end of a run as
 * `name: value (goal …)`, so one run gives the whole before/after table. A figure never fails the run: the
 * bench measures and reports, it does not assert.
 */

export interface Figure {
  name: string;
  value: number;
  unit: '×' | 'ms' | '/s' | 'loads' | '%' | 'ms/node' | 'MB';
  goal: { op: '≤' | '≥' | '<'; value: number };
  /** How it was measured (the parts of a ratio, the run's conditions). */
  detail: string;
}

const figures: Figure[] = [];

export function recordFigure(f: Figure): void {
  figures.push(f);
}

function fmt(v: number, unit: Figure['unit']): string {
  if (!Number.isFinite(v)) return 'n/a';
  switch (unit) {
    case '×':
      return `${v.toFixed(2)}×`;
    case 'ms/node':
      return `${v.toFixed(3)} ms/node`;
    case '%':
      return `${v.toFixed(1)} %`;
    case '/s':
      return `${v.toFixed(1)}/s`;
    case 'loads':
      return `${Math.round(v)}`;
    case 'MB':
      return `${v.toFixed(0)} MB`;
    default:
      return v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(0)} ms`;
  }
}

function met(f: Figure): boolean {
  if (!Number.isFinite(f.value)) return false;
  if (f.goal.op === '≤') return f.value <= f.goal.value;
  if (f.goal.op === '<') return f.value < f.goal.value;
  return f.value >= f.goal.value;
}

/** Lines of the final figures section, in the order recorded. */
export function figureLines(): string[] {
  return figures.map(
    (f) => `${f.name}: ${fmt(f.value, f.unit)} (goal ${f.goal.op} ${fmt(f.goal.value, f.unit)}; ${met(f) ? 'met' : 'NOT met'}) — ${f.detail}`,
  );
}
