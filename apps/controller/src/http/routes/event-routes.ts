import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, UnauthorizedError } from '../../errors';
import type { Services } from '../../services';
import { actorEnded, type EndedCredentials } from '../../services/context';
import { isDatabaseUnavailable } from '../../db/availability';

const KEEP_ALIVE_MS = 15_000;
import type { ActorResolver } from '../api';
import { API_PREFIX } from '../constants';

/**
 * Server-Sent Events for the dashboard: `node` carries the node's current row whenever it changes, `revision`
 * tells that a node's routes changed, `routes` that their reported problems or local routes did. Authenticated like every other read.
 */
export function eventRoutes(app: FastifyInstance, s: Services, resolve: ActorResolver): void {
  // Open streams never end on their own; they are ended on shutdown so that close() does not wait for them.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });
  app.get(`${API_PREFIX}/events`, async (req, reply) => {
    const actor = await resolve(req);
    if (!actor) throw new UnauthorizedError();
    reply.hijack();
    const res = reply.raw;
    open.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff' });
    res.write(': connected\n\n');
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const onNode = (nodeId: string) => {
      s.nodes
        .get(nodeId)
        .then((node) => send('node', node))
        // Only a node that is gone is announced as removed; a database that is away is not a removal.
        .catch((err: unknown) => {
          if (err instanceof NotFoundError) send('node-removed', { id: nodeId });
        });
    };
    const onRevision = (nodeId: string, revision: number) => send('revision', { nodeId, revision });
    const onRoutes = (nodeId: string) => send('routes', { nodeId });
    s.ctx.events.on('node', onNode);
    s.ctx.events.on('revision', onRevision);
    s.ctx.events.on('routes', onRoutes);
    s.ctx.events.on('revoked', onNode);
    let ended = false;
    const stop = () => {
      if (ended) return;
      ended = true;
      open.delete(res);
      clearInterval(keepAlive);
      s.ctx.events.off('node', onNode);
      s.ctx.events.off('revision', onRevision);
      s.ctx.events.off('routes', onRoutes);
      s.ctx.events.off('revoked', onNode);
      s.ctx.events.off('credentials', onCredentials);
    };
    const end = () => {
      stop();
      res.end();
    };
    // A stream lives no longer than the credential it was opened with: logout, a revoked session or token,
    // a password change or a removed user end it at once; expiry is noticed at the next keep-alive.
    const onCredentials = (gone: EndedCredentials) => {
      if (actorEnded(actor, gone)) end();
    };
    s.ctx.events.on('credentials', onCredentials);
    // Proxies drop idle streams; a comment every 15 s keeps it open and lets the browser notice a dead one.
    const keepAlive = setInterval(() => {
      resolve(req).then(
        (still) => (still ? res.write(': keep-alive\n\n') : end()),
        (err: unknown) => (isDatabaseUnavailable(err) ? res.write(': keep-alive\n\n') : end()),
      );
    }, KEEP_ALIVE_MS);
    req.raw.on('close', stop);
    res.on('close', stop);
  });
}
