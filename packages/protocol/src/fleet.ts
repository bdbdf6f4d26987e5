import { z } from 'zod';
import { idSchema, nameSchema } from './validators';

export const NODE_STATUSES = ['pending', 'provisioning', 'online', 'offline', 'error'] as const;
export const nodeStatusSchema = z.enum(NODE_STATUSES);
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

const entity = { id: z.string(), name: z.string(), createdAt: z.string(), updatedAt: z.string() };
export const tenantSchema = z.object(entity);
export const organizationSchema = z.object({ ...entity, tenantId: z.string() });
export const siteSchema = z.object({ ...entity, organizationId: z.string() });
export type Tenant = z.infer<typeof tenantSchema>;
export type Organization = z.infer<typeof organizationSchema>;
export type Site = z.infer<typeof siteSchema>;

export const tenantCreateSchema = z.strictObject({ name: nameSchema });
export const tenantPatchSchema = z.strictObject({ name: nameSchema.optional() });
export const organizationCreateSchema = z.strictObject({ name: nameSchema, tenantId: idSchema });
export const organizationPatchSchema = z.strictObject({ name: nameSchema.optional() });
export const siteCreateSchema = z.strictObject({ name: nameSchema, organizationId: idSchema });
export const sitePatchSchema = z.strictObject({ name: nameSchema.optional() });
export const organizationListQuerySchema = z.strictObject({ tenantId: idSchema.optional() });
export const siteListQuerySchema = z.strictObject({ organizationId: idSchema.optional() });

export const nodeSchema = z.object({
  id: z.string(),
  name: z.string(),
  siteId: z.string(),
  hostname: z.string(),
  isLocal: z.boolean(),
  status: nodeStatusSchema,
  caddyVersion: z.string().nullable(),
  agentVersion: z.string().nullable(),
  lastSeenAt: z.string().nullable(),
  routeCount: z.number().int(),
  certCount: z.number().int(),
  desiredRevision: z.number().int(),
  appliedRevision: z.number().int(),
  lastError: z.string().nullable(),
  /** Set when the node's agent key was revoked; the node cannot connect again. */
  revokedAt: z.string().nullable(),
  /** Modules of the node's Caddy as its agent last reported them; null when unknown (never connected, or an existing Caddy). */
  caddyModules: z.array(z.string()).nullable(),
  /** The node's HTTP and HTTPS listener ports as its agent last reported them; null when unknown. */
  listeners: z.object({ http: z.number().int(), https: z.number().int() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** SSH host key remembered from provisioning (trust on first use); null for nodes that enrolled with a token. */
  sshHostKeySha256: z.string().nullable(),
});
export type FleetNode = z.infer<typeof nodeSchema>;
/** `GET /nodes/:id/certificates`: what the node's Caddy holds, soonest expiry first. */
export const nodeCertificateSchema = z.object({
  subjects: z.array(z.string()),
  issuer: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  kind: z.enum(['managed', 'internal']),
});
export const nodeCertificatesSchema = z.object({
  nodeId: z.string(),
  /** When the agent last reported them; null when it never did. */
  reportedAt: z.string().nullable(),
  certificates: z.array(nodeCertificateSchema),
});
export const nodePatchSchema = z.strictObject({ name: nameSchema.optional(), siteId: idSchema.optional() });
export const nodeListQuerySchema = z.strictObject({ siteId: idSchema.optional() });

export const enrollmentTokenCreateSchema = z.strictObject({
  ttlSeconds: z.number().int().min(60).max(30 * 24 * 3600).default(3600),
});
export const enrollmentTokenCreatedSchema = z.object({
  id: z.string(),
  token: z.string(),
  expiresAt: z.string(),
  /** The controller's URL for agents: --public-url, else the URL this request came in on. */
  publicUrl: z.string(),
  /** What to run as root on the new host: `curl -fsSL <publicUrl>/install.sh | CADDYFLEET_ENROLLMENT_TOKEN=<token> sh`. */
  command: z.string(),
});
export const enrollmentTokenSchema = z.object({
  id: z.string(),
  siteId: z.string(),
  expiresAt: z.string(),
  usedAt: z.string().nullable(),
  /** The node that enrolled with this token, once used. */
  usedByNodeId: z.string().nullable(),
  revokedAt: z.string().nullable(),
  createdAt: z.string(),
});

/** True when other hosts cannot reach this URL: loopback addresses and `localhost` names. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host);
}
