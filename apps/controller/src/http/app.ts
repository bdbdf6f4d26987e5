import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { LIMITS } from '@caddyfleet/protocol';
import type { ControllerConfig } from '../config';
import { UnauthorizedError } from '../errors';
import type { Services } from '../services';
import type { Actor } from '../services/context';
import { ApiRegistry } from './api';
import { SESSION_COOKIE, readCookie } from './cookies';
import { agentDownloadRoutes, publicUrlFor } from './downloads';
import { assertSameOrigin } from './csrf';
import { installErrorHandler } from './error-handler';
import { HttpMetrics } from './metrics';
import { buildOpenApi } from './openapi';
import { API_PREFIX, VERSION } from './constants';
import { eventRoutes } from './routes/event-routes';
import { serveDashboard } from './static';
import { accountRoutes } from './routes/account-routes';
import { authRoutes } from './routes/auth-routes';
import { fleetRoutes } from './routes/fleet-routes';
import { hierarchyRoutes } from './routes/hierarchy-routes';
import { routeRoutes } from './routes/route-routes';
import { provisioningRoutes, provisioningStreamRoute } from './routes/provisioning-routes';

export { API_PREFIX, VERSION } from './constants';

/** A bearer token that is present but wrong is an error, not an anonymous request. */
function actorResolver(s: Services) {
  return async (req: FastifyRequest): Promise<Actor | null> => {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S{1,200})$/i.exec(auth);
      const actor = m ? await s.auth.actorFromApiToken(m[1]!) : null;
      if (!actor) throw new UnauthorizedError('invalid_token', 'the bearer token is invalid or revoked');
      return actor;
    }
    const session = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (!session) return null;
    assertSameOrigin(req);
    return s.auth.actorFromSession(session);
  };
}

export function buildApp(s: Services, config: ControllerConfig, logger: Logger): { app: FastifyInstance; api: ApiRegistry; metrics: HttpMetrics } {
  const app = Fastify({
    // Per-request lines at info would drown the log; Fastify only reports warnings and errors.
    loggerInstance: logger.child({}, { level: logger.levelVal < 40 ? 'warn' : logger.level }) as FastifyBaseLogger,
    bodyLimit: LIMITS.apiBodyBytes,
    trustProxy: config.trustProxy,
    routerOptions: { maxParamLength: 200 },
    // Errors Fastify raises before routing (a malformed URL) get the same error shape as everything else.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send({ error: { code: 'bad_request', message: err.message } });
    },
  });
  // JSON only: a text/plain body (what a cross-origin form can send without a preflight) is refused with 415.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app, { onDatabaseUnavailable: (err) => s.ctx.health.observe(err) });
  // Browsers must take every answer for the type it says it is (JSON, text), errors included.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });
  const metrics = new HttpMetrics();
  metrics.install(app);
  const resolve = actorResolver(s);
  const api = new ApiRegistry(app, API_PREFIX, resolve);

  authRoutes(api, s, config.sessionTtlHours, resolve);
  accountRoutes(api, s);
  hierarchyRoutes(api, s);
  fleetRoutes(api, s, (req) => publicUrlFor(config, req));
  routeRoutes(api, s);
  eventRoutes(app, s, resolve);
  provisioningRoutes(api, s);
  provisioningStreamRoute(app, s, resolve);

  let openapi: Record<string, unknown> | null = null;
  api.add({
    method: 'GET',
    url: '/openapi.json',
    summary: 'This document',
    tag: 'meta',
    access: 'read',
    handler: async () => (openapi ??= buildOpenApi(api.endpoints, API_PREFIX, VERSION)),
  });

  // 200 while the database answers, 503 while it is away; agents keep their sessions either way.
  app.get('/healthz', async (_req, reply) => {
    const database = await s.ctx.health.check();
    if (database === 'ok') return { status: 'ok', version: VERSION, database };
    return reply.code(503).send({ status: 'unavailable', version: VERSION, database, error: s.ctx.health.lastError, since: s.ctx.health.since.toISOString() });
  });
  app.get('/metrics', async (req, reply) => {
    if (!(await resolve(req))) throw new UnauthorizedError();
    const [routesByKind, nodesByStatus] = await Promise.all([s.routes.countByKind(), s.nodes.countByStatus()]);
    return reply.type('text/plain; version=0.0.4').send(metrics.render({ routesByKind, nodesByStatus }));
  });
  agentDownloadRoutes(app, config);
  serveDashboard(app);
  return { app, api, metrics };
}
