import type { z } from 'zod';

/** Field path → first message, from a zod error ("domains.1" stays as is; the form decides where to show it). */
export type FieldErrors = Record<string, string>;

function friendly(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.expected === 'number') return 'enter a number';
  if (issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1) return 'required';
  return issue.message;
}

export function zodFieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join('.');
    if (!(key in out)) out[key] = friendly(issue);
  }
  return out;
}
