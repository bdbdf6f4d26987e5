import { z } from 'zod';
import { LIMITS } from './limits';
import { dockerSourceSchema } from './docker-source';
import { proxyOptionsProblems, proxyOptionsSchema } from './proxy-options';
import { routeUpstreamHealthSchema } from './upstream-health';
import { domainSchema, idSchema, portSchema, redirectUrlSchema, upstreamHostSchema } from './validators';

export const ROUTE_KINDS = ['proxy', 'redirect', 'stream', 'dead'] as const;
export const routeKindSchema = z.enum(ROUTE_KINDS);
export type RouteKind = z.infer<typeof routeKindSchema>;

export const routeScopeSchema = z.enum(['exclusive', 'local_only']);
export const routeOriginSchema = z.enum(['central', 'local', 'docker']);
export const tlsModeSchema = z.enum(['auto', 'internal', 'off']);
export const streamProtocolSchema = z.enum(['tcp', 'udp']);
export const redirectStatusSchema = z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]);

export const upstreamSchema = z.strictObject({ host: upstreamHostSchema, port: portSchema });
export type Upstream = z.infer<typeof upstreamSchema>;

const domainsSchema = z
  .array(domainSchema)
  .min(1, 'at least one domain is required')
  .max(LIMITS.domainsPerRoute)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const d of list) {
      if (seen.has(d)) ctx.addIssue({ code: 'custom', message: `domain ${d} is listed twice` });
      seen.add(d);
    }
  });
const upstreamsSchema = z.array(upstreamSchema).min(1, 'at least one upstream is required').max(LIMITS.upstreamsPerRoute);

export const redirectSpecSchema = z.strictObject({
  to: redirectUrlSchema,
  status: redirectStatusSchema.default(301),
  preservePath: z.boolean().default(true),
});
export const listenSchema = z.strictObject({ port: portSchema, protocol: streamProtocolSchema.default('tcp') });
/** PROXY protocol header version a stream sends to its upstream (the upstream then sees the client's address). */
export const proxyProtocolSchema = z.enum(['v1', 'v2']);
/** TLS server names a stream answers (TLS passthrough routed by SNI): several streams can then share one TCP port. */
const sniSchema = z
  .array(domainSchema)
  .max(LIMITS.domainsPerRoute)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const d of list) {
      if (seen.has(d)) ctx.addIssue({ code: 'custom', message: `server name ${d} is listed twice` });
      seen.add(d);
    }
  });

/** Fields every route kind accepts from an API client. `origin` is always set by the server. */
const common = {
  nodeId: idSchema.nullable().default(null).describe('Node that serves the route; null is the controller\'s local node'),
  scope: routeScopeSchema.default('exclusive'),
  enabled: z.boolean().default(true),
};

export const proxyRouteInput = z
  .strictObject({
    kind: z.literal('proxy'),
    ...common,
    domains: domainsSchema,
    upstreams: upstreamsSchema,
    tls: tlsModeSchema.default('auto'),
    options: proxyOptionsSchema.nullable().optional().describe('Upstream TLS, load balancing, locations, HSTS, headers, basic auth, access lists, maintenance'),
  })
  .superRefine((r, ctx) => {
    if (!r.options) return;
    for (const p of proxyOptionsProblems(r.options, r.tls)) ctx.addIssue({ code: 'custom', path: ['options', ...p.path], message: p.message });
  });
export const redirectRouteInput = z.strictObject({
  kind: z.literal('redirect'),
  ...common,
  domains: domainsSchema,
  redirect: redirectSpecSchema,
  tls: tlsModeSchema.default('auto'),
});
export const streamRouteInput = z
  .strictObject({
    kind: z.literal('stream'),
    ...common,
    listen: listenSchema,
    upstreams: upstreamsSchema,
    tls: z.literal('off').default('off'),
    sni: sniSchema.optional().describe('Route TLS connections by server name (TCP only); empty or absent: every connection on the port'),
    proxyProtocol: proxyProtocolSchema.nullable().optional().describe('Send a PROXY protocol header of this version to the upstream'),
  })
  .superRefine((r, ctx) => {
    if (r.sni?.length && r.listen.protocol === 'udp') {
      ctx.addIssue({ code: 'custom', path: ['sni'], message: 'server names (TLS SNI) need a tcp listener' });
    }
  });
export const deadRouteInput = z.strictObject({
  kind: z.literal('dead'),
  ...common,
  domains: domainsSchema,
  tls: tlsModeSchema.default('auto'),
});

/** Body of `POST /routes`: one schema per kind, chosen by `kind`. */
export const routeCreateSchema = z.discriminatedUnion('kind', [proxyRouteInput, redirectRouteInput, streamRouteInput, deadRouteInput]);
export type RouteCreate = z.infer<typeof routeCreateSchema>;
export type RouteCreateInput = z.input<typeof routeCreateSchema>;

/**
 * Body of `PATCH /routes/:id`. Kind-specific fields are checked again after merging with the stored route,
 * so a patch can never produce a route that `POST` would refuse.
 */
export const routePatchSchema = z.strictObject({
  nodeId: idSchema.nullable().optional(),
  scope: routeScopeSchema.optional(),
  enabled: z.boolean().optional(),
  domains: z.array(z.string().max(LIMITS.hostname + 2)).max(LIMITS.domainsPerRoute).optional(),
  upstreams: z.array(z.unknown()).max(LIMITS.upstreamsPerRoute).optional(),
  redirect: z.unknown().optional(),
  listen: z.unknown().optional(),
  tls: tlsModeSchema.optional(),
  sni: z.array(z.string().max(LIMITS.hostname + 2)).max(LIMITS.domainsPerRoute).optional(),
  proxyProtocol: proxyProtocolSchema.nullable().optional(),
  options: z.unknown().optional(),
});
export type RoutePatch = z.infer<typeof routePatchSchema>;

export const routeSchema = z.object({
  id: z.string(),
  kind: routeKindSchema,
  domains: z.array(z.string()),
  listen: z.object({ port: z.number(), protocol: streamProtocolSchema }).nullable(),
  upstreams: z.array(z.object({ host: z.string(), port: z.number() })),
  redirect: z.object({ to: z.string(), status: redirectStatusSchema, preservePath: z.boolean() }).nullable(),
  nodeId: z.string().nullable(),
  siteId: z.string(),
  scope: routeScopeSchema,
  origin: routeOriginSchema,
  enabled: z.boolean(),
  tls: tlsModeSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  revision: z.number().int(),
  /** Why the node could not serve this route (unsupported there, or a conflict with a central route), if so. */
  lastError: z.string().nullable(),
  /** Docker routes: the container it comes from (the first one when several containers share the route). */
  source: dockerSourceSchema.nullable().optional(),
  /** Docker routes: every container behind the route, one per upstream group. */
  sources: z.array(dockerSourceSchema).optional(),
  /** Stream only, when set: TLS server names this stream is routed by. */
  sni: z.array(z.string()).optional(),
  /** Stream only, when set: PROXY protocol version sent to the upstream. */
  proxyProtocol: proxyProtocolSchema.optional(),
  /** Proxy only, when set: the proxy host's options. */
  options: proxyOptionsSchema.optional(),
  /** Proxy only, in `GET /routes` and `GET /routes/:id`: each upstream's health as the node's Caddy reports it. */
  upstreamHealth: z.array(routeUpstreamHealthSchema).optional(),
});
export type Route = z.infer<typeof routeSchema>;

export const routeListQuerySchema = z.strictObject({
  nodeId: z.string().max(64).optional().describe('A node id, or "local" for the controller\'s local node'),
  siteId: idSchema.optional(),
  kind: routeKindSchema.optional(),
  origin: routeOriginSchema.optional(),
});

/** Body of `POST /routes/batch`: creates, patches and deletes applied in one transaction, all or nothing. */
export const routeBatchSchema = z
  .strictObject({
    create: z.array(routeCreateSchema).max(1000).default([]),
    update: z.array(z.strictObject({ id: idSchema, patch: routePatchSchema })).max(1000).default([]),
    delete: z.array(idSchema).max(1000).default([]),
  })
  .refine((b) => b.create.length + b.update.length + b.delete.length > 0, 'the batch is empty')
  .refine((b) => b.create.length + b.update.length + b.delete.length <= 1000, 'at most 1000 operations per batch');
export const routeBatchResultSchema = z.object({ created: z.array(routeSchema), updated: z.array(routeSchema), deleted: z.array(z.string()) });
