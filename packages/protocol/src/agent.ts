import { z } from 'zod';
import { DOCKER_LIMITS, dockerEntrySchema, sourcedDockerEntrySchema } from './docker';
import { routeSchema, routeCreateSchema } from './routes';
import { nameSchema, hostnameProblem, portSchema } from './validators';
import { LIMITS } from './limits';
import { MAX_REPORTED_UPSTREAMS, upstreamReportSchema } from './upstream-health';

/**
 * Bumped on any incompatible change to the frames below; negotiated in `hello`. 2 added `delta` (controller)
 * and `resync` (agent); 3 added `upstream-health` (agent), which a controller of version 2 would answer by
 * closing the socket as an unknown frame, again after every reconnect. The controller still serves agents of
 * every version from OLDEST_PROTOCOL_VERSION on: it answers `welcome` with the agent's version and sends
 * version-1 agents full `sync` frames only.
 */
export const PROTOCOL_VERSION = 3;
export const OLDEST_PROTOCOL_VERSION = 1;

const agentHostnameSchema = z
  .string()
  .max(253)
  .superRefine((v, ctx) => {
    const problem = hostnameProblem(v.toLowerCase(), false);
    if (problem) ctx.addIssue({ code: 'custom', message: `hostname ${problem}` });
  });

export const enrollRequestSchema = z.strictObject({
  token: z.string().min(10).max(200),
  name: nameSchema,
  hostname: agentHostnameSchema,
});
export const enrollResponseSchema = z.object({ nodeId: z.string(), agentKey: z.string() });

const version = z.string().max(100);
const revision = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(10_000_000);

/** A Caddy module id as `caddy list-modules` prints it, e.g. `layer4.handlers.proxy`. */
export const caddyModuleSchema = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.-]+$/, 'is not a Caddy module id');
/** Generous: a stock Caddy has about 150 modules, a build with plugins a few hundred. */
export const MAX_CADDY_MODULES = 5000;

/** The node's own listeners, so the controller can refuse a stream route on a port Caddy's HTTP servers hold. */
export const agentListenersSchema = z.strictObject({ http: portSchema, https: portSchema });

/** One certificate the node's Caddy holds. `kind`: `internal` = issued by Caddy's local CA, `managed` = by an ACME CA. */
export const certificateSchema = z.strictObject({
  subjects: z.array(z.string().max(300)).max(100),
  issuer: z.string().max(300),
  notBefore: z.string().max(40),
  notAfter: z.string().max(40),
  kind: z.enum(['managed', 'internal']),
});
export type Certificate = z.infer<typeof certificateSchema>;
export const MAX_REPORTED_CERTIFICATES = 10_000;

/** A route managed on the agent itself (scope local_only), as published to the controller. */
export const localRouteSchema = z.intersection(
  routeCreateSchema,
  z.object({ id: z.string().min(1).max(32).regex(/^[A-Za-z0-9_-]+$/) }),
);

/** Problems an ack may report: every central route and every local route of the node at most. */
export const MAX_ROUTE_ERRORS = LIMITS.routesPerNode + LIMITS.localRoutesPerFrame;

/** The domains of a local-routes list, counted against `localDomainsPerFrame`. */
export function localDomainCount(routes: readonly unknown[]): number {
  let n = 0;
  for (const r of routes) {
    const domains = (r as { domains?: unknown } | null)?.domains;
    if (Array.isArray(domains)) n += domains.length;
  }
  return n;
}

const domainBudget = (routes: readonly unknown[], ctx: z.RefinementCtx) => {
  const n = localDomainCount(routes);
  if (n > LIMITS.localDomainsPerFrame) ctx.addIssue({ code: 'custom', message: `local routes have ${n} domains in total; at most ${LIMITS.localDomainsPerFrame} are accepted` });
};

/** The routes of a `local-routes` frame. */
export const localRoutesListSchema = z.array(localRouteSchema).max(LIMITS.localRoutesPerFrame).superRefine(domainBudget);

function frameUnion<L extends z.ZodType>(localRoutes: L) {
  return z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('hello'),
      protocolVersion: z.number().int(),
      agentVersion: version,
      caddyVersion: version.nullable(),
      /** Sent by older agents; ignored: `caddyModules` is the record of what the node's Caddy has. */
      capabilities: z.strictObject({ layer4: z.boolean() }).optional(),
      appliedRevision: revision,
      /** Every module of the node's Caddy; absent when the agent cannot tell (an existing Caddy it does not run). */
      caddyModules: z.array(caddyModuleSchema).max(MAX_CADDY_MODULES).optional(),
      listeners: agentListenersSchema.optional(),
    }),
    z.strictObject({
      type: z.literal('ack'),
      revision,
      ok: z.boolean(),
      error: z.string().max(8192).optional(),
      routeErrors: z.array(z.strictObject({ routeId: z.string().max(64), error: z.string().max(2048) })).max(MAX_ROUTE_ERRORS).default([]),
    }),
    z.strictObject({
      type: z.literal('status'),
      routeCount: count,
      certCount: count,
      caddyVersion: version.nullable(),
      appliedRevision: revision,
      drift: z.boolean().default(false),
    }),
    z.strictObject({ type: z.literal('local-routes'), routes: localRoutes }),
    /** Every site found in the labels of this host's containers (the full set, replacing the previous one). */
    z.strictObject({ type: z.literal('docker-routes'), routes: z.array(dockerEntrySchema).max(DOCKER_LIMITS.entriesPerNode) }),
    /** The certificates the node's Caddy holds; sent after hello and whenever the set changes. */
    z.strictObject({ type: z.literal('certificates'), certificates: z.array(certificateSchema).max(MAX_REPORTED_CERTIFICATES) }),
    /** Each upstream of the node's proxy routes as its Caddy sees it (protocol 3); sent after hello and on changes. */
    z.strictObject({ type: z.literal('upstream-health'), upstreams: z.array(upstreamReportSchema).max(MAX_REPORTED_UPSTREAMS) }),
    z.strictObject({ type: z.literal('ping'), t: z.number() }),
    z.strictObject({ type: z.literal('pong'), t: z.number() }),
    /** The agent could not apply a `delta` (its state is not the delta's base): it asks for a full `sync`. */
    z.strictObject({ type: z.literal('resync'), revision }),
  ]);
}

export const agentFrameSchema = frameUnion(localRoutesListSchema);
export type AgentFrame = z.infer<typeof agentFrameSchema>;

/**
 * The same frames with the routes of `local-routes` left unchecked (only counted): the controller validates
 * them in chunks, yielding between chunks, so one large frame cannot hold its event loop.
 */
export const agentFrameEnvelopeSchema = frameUnion(z.array(z.unknown()).max(LIMITS.localRoutesPerFrame).superRefine(domainBudget));
export type AgentFrameType = AgentFrame['type'];

export const controllerFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    protocolVersion: z.number().int(),
    nodeId: z.string(),
    heartbeatSeconds: z.number().int().min(1).max(3600),
  }),
  z.strictObject({
    type: z.literal('sync'),
    revision,
    routes: z.array(routeSchema).max(LIMITS.routesPerSync),
    /** Docker sites other nodes found that this node serves (`caddyfleet.node`); sent only when there are some. */
    dockerRoutes: z.array(sourcedDockerEntrySchema).max(10 * DOCKER_LIMITS.entriesPerNode).optional(),
  }),
  z.strictObject({ type: z.literal('ping'), t: z.number() }),
  z.strictObject({ type: z.literal('pong'), t: z.number() }),
  /**
   * The changes that take a node's routes from revision `base` to `revision` (protocol 2): routes to add or
   * replace, and ids of routes to drop. Applies only on top of exactly `base`. Docker sites of other nodes
   * (`dockerRoutes`) never change in a delta: when they change, the node gets a full `sync`.
   */
  z
    .strictObject({
      type: z.literal('delta'),
      base: revision,
      revision,
      upsert: z.array(routeSchema).max(LIMITS.routesPerDelta),
      remove: z.array(z.string().min(1).max(64)).max(LIMITS.routesPerDelta),
    })
    .refine((f) => f.revision > f.base, { message: 'revision must be greater than base', path: ['revision'] }),
]);
export type ControllerFrame = z.infer<typeof controllerFrameSchema>;
export type ControllerFrameType = ControllerFrame['type'];

/**
 * A WebSocket close reason within the protocol's 123-byte limit, cut on a character boundary: `ws` throws on a
 * longer one, and peer-chosen text (a zod message quoting an unknown key) must never be able to cause that.
 */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > 120) break;
    out += ch;
  }
  return out + '...';
}

/** WebSocket close codes used by both sides; 4xxx is the application range. */
export const CLOSE_CODES = {
  protocolMismatch: 4000,
  badFrame: 4001,
  tooLarge: 1009,
  /** The controller cannot handle the agent right now (its database is away): reconnect with backoff. */
  tryAgainLater: 1013,
  unauthorized: 4401,
  revoked: 4403,
  replaced: 4409,
  /** The agent sent more frames than the controller accepts; it may come back after a pause. */
  rateLimited: 4429,
} as const;
