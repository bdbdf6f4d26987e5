import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { idSchema } from '@caddyfleet/protocol';
import { ForbiddenError, UnauthorizedError, ValidationError } from '../errors';
import type { Actor } from '../services/context';

/**
 * Who may call an endpoint: `public` needs nothing, `read` any signed-in user or token, `write` an admin,
 * `agent` is authenticated by the handler itself (enrollment token or agent key).
 */
export type Access = 'public' | 'read' | 'write' | 'agent';

export interface Endpoint<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  access: Access;
  body?: B;
  query?: Q;
  params?: P;
  response?: z.ZodType;
  /** Success status; 204 sends no body. */
  status?: 200 | 201 | 202 | 204;
  handler: (input: {
    body: z.output<B>;
    query: z.output<Q>;
    params: z.output<P>;
    actor: Actor;
    req: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<unknown>;
}

export type AnyEndpoint = Endpoint<z.ZodType, z.ZodType, z.ZodType>;

export type ActorResolver = (req: FastifyRequest) => Promise<Actor | null>;

export const idParams = z.strictObject({ id: idSchema });

const ANONYMOUS: Actor = { kind: 'system', id: 'anonymous', label: 'anonymous', role: 'viewer' };

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.output<S> {
  if (!schema) return undefined as z.output<S>;
  const result = schema.safeParse(value ?? (where === 'query' || where === 'path' ? {} : undefined));
  if (!result.success) throw ValidationError.fromZod(result.error, where);
  return result.data;
}

/**
 * Registers endpoints on Fastify and keeps them for the OpenAPI document, so the zod schema that validates a
 * body is also the one that documents it.
 */
export class ApiRegistry {
  readonly endpoints: AnyEndpoint[] = [];

  constructor(
    private readonly app: FastifyInstance,
    readonly prefix: string,
    private readonly resolveActor: ActorResolver,
  ) {}

  add<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
    ep: Endpoint<B, Q, P>,
  ): void {
    this.endpoints.push(ep as unknown as AnyEndpoint);
    this.app.route({
      method: ep.method,
      url: this.prefix + ep.url,
      handler: async (req, reply) => {
        const actor = await this.authorize(ep.access, req);
        const params = parse(ep.params, req.params, 'path');
        const query = parse(ep.query, req.query, 'query');
        const body = ep.body ? parse(ep.body, req.body, 'body') : undefined;
        if (!ep.body && req.body !== undefined && req.body !== null && ep.method !== 'GET' && ep.method !== 'DELETE') {
          const empty = typeof req.body === 'object' && Object.keys(req.body as object).length === 0;
          if (!empty) throw new ValidationError('this endpoint takes no body');
        }
        const result = await ep.handler({ body: body as z.output<B>, query, params, actor, req, reply });
        const status = ep.status ?? 200;
        reply.code(status);
        if (status === 204) return reply.send();
        return result;
      },
    });
  }

  private async authorize(access: Access, req: FastifyRequest): Promise<Actor> {
    if (access === 'public' || access === 'agent') return ANONYMOUS;
    const actor = await this.resolveActor(req);
    if (!actor) throw new UnauthorizedError();
    if (access === 'write' && actor.role !== 'admin') throw new ForbiddenError('forbidden', 'your role may read but not change anything');
    return actor;
  }
}
