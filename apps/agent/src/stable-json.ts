/**
 * JSON with object keys sorted at every level. Caddy hands its config back with its own key order, so a
 * plain JSON.stringify comparison would report drift that is not there; array order is kept (it matters).
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    // JSON.stringify drops undefined members; do the same so {a: undefined} equals {}.
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}
