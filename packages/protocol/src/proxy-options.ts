/**
 * Options of a proxy host, in the spirit of Nginx Proxy Manager: upstream TLS, load balancing, custom locations,
 * HSTS, request/response headers, basic auth, IP allow/deny lists and a maintenance page. Every string that
 * reaches Caddy is checked here so that none can carry a placeholder (`{…}`) or break the config; each problem
 * names its field.
 */
import { z } from 'zod';
import { LIMITS } from './limits';
import { hasUnsafeChars, portSchema, upstreamHostSchema } from './validators';

export const LB_POLICIES = ['round_robin', 'least_conn', 'ip_hash', 'first', 'random'] as const;
export const lbPolicySchema = z.enum(LB_POLICIES);

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** An HTTP header name (RFC 9110 token). */
export const headerNameSchema = z.string().max(100).regex(HEADER_NAME, 'is not a valid header name');
const headerValueSchema = z
  .string()
  .max(1000)
  .refine((v) => !hasUnsafeChars(v), 'must not contain placeholders ({…}) or control characters');

const headerOpsSchema = z.strictObject({
  set: z
    .record(z.string().max(100), headerValueSchema)
    .superRefine((r, ctx) => {
      const names = Object.keys(r);
      if (names.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 headers' });
      for (const n of names) if (!HEADER_NAME.test(n)) ctx.addIssue({ code: 'custom', path: [n], message: 'is not a valid header name' });
    })
    .optional(),
  remove: z.array(headerNameSchema).max(50).optional(),
});

/** A path prefix such as `/api` or `/static/img`: no wildcard, placeholder, query or trailing slash. */
export const pathPrefixSchema = z
  .string()
  .max(200)
  .transform((v) => (v.length > 1 ? v.replace(/\/+$/, '') : v))
  .pipe(
    z
      .string()
      .regex(/^\/[A-Za-z0-9._~!$&'()+,;=:@%/-]+$/, 'must start with / and contain only URL path characters (no *, ?, # or braces)')
      .refine((p) => !p.includes('//'), 'must not contain //'),
  );

const upstreamsSchema = z
  .array(z.strictObject({ host: upstreamHostSchema, port: portSchema }))
  .min(1, 'at least one upstream is required')
  .max(LIMITS.upstreamsPerRoute);

export const locationSchema = z.strictObject({ path: pathPrefixSchema, upstreams: upstreamsSchema });

const seconds = (max: number) => z.number().int().min(1).max(max);
/**
 * Active: Caddy requests `path` on every upstream each `intervalSeconds` and takes one that fails (no 2xx, or not
 * `expectStatus`) out of rotation until it passes again. Passive: an upstream whose proxied requests fail
 * `maxFails` times within `failDurationSeconds` is taken out for that long.
 */
export const healthChecksSchema = z.strictObject({
  active: z
    .strictObject({
      path: z
        .string()
        .max(200)
        .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/, 'must be a path such as /healthz (an optional query is allowed; no braces)'),
      intervalSeconds: seconds(3600).default(30),
      timeoutSeconds: seconds(60).default(5),
      expectStatus: z.number().int().min(100).max(599).optional(),
    })
    .optional(),
  passive: z.strictObject({ maxFails: z.number().int().min(1).max(100).default(1), failDurationSeconds: seconds(3600).default(30) }).optional(),
});

/** An IPv4/IPv6 address or CIDR range (host bits after the prefix are refused where a value is entered: `./cidr`). */
export const ipRangeSchema = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'must be an IP address or a CIDR range such as 10.0.0.0/8' });

export const basicAuthUserSchema = z.strictObject({
  username: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[\x21-\x39\x3b-\x7a\x7c\x7e]+$/, 'must be printable ASCII without spaces, colons or braces'),
  /** A bcrypt hash as `caddy hash-password` prints it; plain passwords are never accepted or stored. */
  passwordHash: z.string().regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, 'must be a bcrypt hash ($2a$/$2b$/$2y$…, e.g. from `caddy hash-password`)'),
});

function unique<T>(list: T[], key: (t: T) => string, what: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i], message: `${what} ${k} is listed twice` });
    seen.add(k);
  });
}

export const proxyOptionsSchema = z.strictObject({
  /** How Caddy talks to the upstreams: plain HTTP (default) or HTTPS. */
  upstreamScheme: z.enum(['http', 'https']).optional(),
  /** HTTPS upstreams only: accept a self-signed or otherwise unverifiable certificate. */
  skipVerify: z.boolean().optional(),
  loadBalancing: lbPolicySchema.optional(),
  healthChecks: healthChecksSchema.optional(),
  /** Path prefix → its own upstreams (longest prefix wins), like NPM's custom locations. */
  locations: z
    .array(locationSchema)
    .max(50)
    .superRefine((l, ctx) => unique(l, (x) => x.path, 'path', ctx))
    .optional(),
  /** With TLS: false also serves the host over plain HTTP instead of redirecting HTTP to HTTPS (the default). */
  forceHttps: z.boolean().optional(),
  /** Send Strict-Transport-Security (one year, subdomains included) on HTTPS responses. */
  hsts: z.boolean().optional(),
  headers: z.strictObject({ request: headerOpsSchema.optional(), response: headerOpsSchema.optional() }).optional(),
  basicAuth: z
    .array(basicAuthUserSchema)
    .max(100)
    .superRefine((l, ctx) => unique(l, (x) => x.username, 'user', ctx))
    .optional(),
  /** Client addresses: `deny` wins; with a non-empty `allow`, only those may pass. Others get 403. */
  access: z.strictObject({ allow: z.array(ipRangeSchema).max(500).optional(), deny: z.array(ipRangeSchema).max(500).optional() }).optional(),
  /** Answer every request with a 503 maintenance page instead of proxying. */
  maintenance: z.boolean().optional(),
});
export type ProxyOptions = z.infer<typeof proxyOptionsSchema>;

/** Checks that need the rest of the route (its TLS mode). */
export function proxyOptionsProblems(options: ProxyOptions, tls: string): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (options.skipVerify && options.upstreamScheme !== 'https') problems.push({ path: ['skipVerify'], message: 'only applies to https upstreams' });
  if (options.hsts && tls === 'off') problems.push({ path: ['hsts'], message: 'needs HTTPS (tls auto or internal)' });
  if (options.forceHttps !== undefined && tls === 'off') problems.push({ path: ['forceHttps'], message: 'needs HTTPS (tls auto or internal)' });
  return problems;
}
