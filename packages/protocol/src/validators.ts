import { z } from 'zod';
import { LIMITS } from './limits';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PLACEHOLDER = /[{}]/;

/** Rejects characters that would be read by Caddy as a placeholder or that no config string should carry. */
export function hasUnsafeChars(value: string): boolean {
  return PLACEHOLDER.test(value) || /[\u0000-\u001f\u007f]/.test(value);
}

function punycodeHint(value: string): string {
  try {
    const ascii = new URL(`http://${value}`).hostname;
    return ascii !== value ? ` (its punycode form is ${ascii})` : '';
  } catch {
    return '';
  }
}

/** RFC 1123 host name check; `wildcard` allows a single leading `*.` label. */
export function hostnameProblem(value: string, wildcard: boolean): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > LIMITS.hostname) return `must be at most ${LIMITS.hostname} characters`;
  if (hasUnsafeChars(value)) return 'must not contain placeholders ({…}) or control characters';
  // Raw IDN never reaches Caddy: the user must give the ASCII form so that what is stored is what is served.
  if (/[^\x20-\x7e]/.test(value)) return `internationalised names must be given in punycode${punycodeHint(value)}`;
  let rest = value;
  if (rest.startsWith('*.')) {
    if (!wildcard) return 'wildcards are not allowed here';
    rest = rest.slice(2);
  }
  const labels = rest.split('.');
  if (labels.length < 1) return 'is not a host name';
  for (const label of labels) {
    if (!LABEL.test(label)) return `label "${label}" is not a valid RFC 1123 label (a-z, 0-9 and inner hyphens, 1–63 characters)`;
  }
  return null;
}

/** A domain served by a route: lower-cased RFC 1123 name, optionally `*.`-prefixed. */
export const domainSchema = z
  .string()
  .max(LIMITS.hostname + 2)
  .transform((v) => v.trim().toLowerCase())
  .superRefine((v, ctx) => {
    const problem = hostnameProblem(v, true);
    if (problem) ctx.addIssue({ code: 'custom', message: `domain ${problem}` });
  });

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();

/** An upstream host: an IPv4/IPv6 address or an RFC 1123 host name (no wildcard). */
export const upstreamHostSchema = z
  .string()
  .max(LIMITS.hostname + 2)
  .transform((v) => v.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1'))
  .superRefine((v, ctx) => {
    if (ipv4.safeParse(v).success || ipv6.safeParse(v).success) return;
    const problem = hostnameProblem(v, false);
    if (problem) ctx.addIssue({ code: 'custom', message: `host ${problem}` });
  });

export const portSchema = z
  .number({ error: 'enter a port (1–65535)' })
  .int('enter a port (1–65535)')
  .min(1, 'enter a port (1–65535)')
  .max(65535, 'enter a port (1–65535)');

/** An absolute http(s) URL to redirect to. */
export const redirectUrlSchema = z
  .string()
  .min(1)
  .max(LIMITS.url)
  .superRefine((v, ctx) => {
    if (hasUnsafeChars(v) || /\s/.test(v)) {
      ctx.addIssue({ code: 'custom', message: 'URL must not contain placeholders ({…}), spaces or control characters' });
      return;
    }
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL such as https://example.com/path' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'URL scheme must be http or https' });
    }
    if (/[^\x20-\x7e]/.test(v)) ctx.addIssue({ code: 'custom', message: 'URL must be ASCII (use punycode and percent-encoding)' });
  });

/** A display name: printable, trimmed, no placeholders. */
export const nameSchema = z
  .string()
  .transform((v) => v.trim())
  .pipe(
    z
      .string()
      .min(1, 'must not be empty')
      .max(LIMITS.name)
      .refine((v) => !hasUnsafeChars(v), 'must not contain braces or control characters'),
  );

export const idSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'is not a valid id');
