/** Small statistics helpers for the benchmark: percentiles (nearest rank), summaries and number formatting. */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). NaN for an empty array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return {
    n: s.length,
    min: s[0] ?? NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
    mean,
  };
}

/** Milliseconds with a precision that suits the magnitude: 0.42 ms, 12.3 ms, 1234 ms. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  return `${Math.round(v)} ms`;
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(2)}×`;
}

export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : 'n/a';
}

export function secs(v: number, digits = 2): string {
  return Number.isFinite(v) ? `${v.toFixed(digits)} s` : 'n/a';
}

export function pct(v: number, digits = 1): string {
  return Number.isFinite(v) ? `${v.toFixed(digits)} %` : 'n/a';
}

export function int(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v)) : 'n/a';
}
