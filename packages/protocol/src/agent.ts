import { z } from 'zod';
import { routeSchema, routeCreateSchema } from './routes';
import { LIMITS } from './limits';
import { nameSchema, hostnameProblem } from './validators';

/**
 * Bumped on any incompatible change to the frames below; negotiated in `hello`. 2 added `delta` (controller)
 * and `resync` (agent). The controller still serves agents of every version from OLDEST_PROTOCOL_VERSION on:
 * it answers `welcome` with the agent's version and sends version-1 agents full `sync` frames only.
 */
export const PROTOCOL_VERSION = 2;
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

/** A route managed on the agent itself (scope local_only), as published to the controller. */
export const localRouteSchema = z.intersection(
  routeCreateSchema,
  z.object({ id: z.string().min(1).max(32).regex(/^[A-Za-z0-9_-]+$/) }),
);

export const agentFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    protocolVersion: z.number().int(),
    agentVersion: version,
    caddyVersion: version.nullable(),
    capabilities: z.strictObject({ layer4: z.boolean() }),
    appliedRevision: revision,
  }),
  z.strictObject({
    type: z.literal('ack'),
    revision,
    ok: z.boolean(),
    error: z.string().max(8192).optional(),
    routeErrors: z.array(z.strictObject({ routeId: z.string().max(64), error: z.string().max(2048) })).max(10_000).default([]),
  }),
  z.strictObject({
    type: z.literal('status'),
    routeCount: count,
    certCount: count,
    caddyVersion: version.nullable(),
    appliedRevision: revision,
    drift: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('local-routes'), routes: z.array(localRouteSchema).max(10_000) }),
  z.strictObject({ type: z.literal('ping'), t: z.number() }),
  z.strictObject({ type: z.literal('pong'), t: z.number() }),
  /** The agent could not apply a `delta` (its state is not the delta's base): it asks for a full `sync`. */
  z.strictObject({ type: z.literal('resync'), revision }),
]);
export type AgentFrame = z.infer<typeof agentFrameSchema>;
export type AgentFrameType = AgentFrame['type'];

export const controllerFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    protocolVersion: z.number().int(),
    nodeId: z.string(),
    heartbeatSeconds: z.number().int().min(1).max(3600),
  }),
  z.strictObject({ type: z.literal('sync'), revision, routes: z.array(routeSchema).max(LIMITS.routesPerSync) }),
  z.strictObject({ type: z.literal('ping'), t: z.number() }),
  z.strictObject({ type: z.literal('pong'), t: z.number() }),
  /**
   * The changes that take a node's routes from revision `base` to `revision` (protocol 2): routes to add or
   * replace, and ids of routes to drop. Applies only on top of exactly `base`.
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
  unauthorized: 4401,
  revoked: 4403,
  replaced: 4409,
} as const;
