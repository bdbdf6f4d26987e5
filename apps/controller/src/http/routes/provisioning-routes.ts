import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { provisionJobSchema, provisionRequestSchema, provisionStartedSchema, reprovisionRequestSchema, type ProvisionJob } from '@caddyfleet/protocol';
import { UnauthorizedError, ValidationError } from '../../errors';
import type { JobRun } from '../../provisioning/job-run';
import type { Services } from '../../services';
import { idParams, type ActorResolver, type ApiRegistry } from '../api';
import { API_PREFIX } from '../constants';
import { publicUrlFor } from '../downloads';

/** The URL the new host dials: --public-url, else the origin the API was called on. */
function requestOrigin(req: FastifyRequest): string {
  return publicUrlFor({ publicUrl: undefined }, req);
}

export function provisioningRoutes(api: ApiRegistry, s: Services): void {
  api.add({
    method: 'POST',
    url: '/nodes/provision',
    summary: 'Add a server over SSH: creates the node (status provisioning) and starts installing it; credentials are used for this run only',
    tag: 'provisioning',
    access: 'write',
    body: provisionRequestSchema,
    response: provisionStartedSchema,
    status: 202,
    handler: async ({ actor, body, req }) => s.provisioning.provision(actor, body, requestOrigin(req)),
  });
  api.add({
    method: 'POST',
    url: '/nodes/:id/provision',
    summary: 'Re-provision a node over SSH: keeps its id and routes, upgrades the agent, re-applies the hardening',
    tag: 'provisioning',
    access: 'write',
    params: idParams,
    body: reprovisionRequestSchema,
    response: provisionStartedSchema,
    status: 202,
    handler: async ({ actor, params, body, req }) => s.provisioning.reprovision(actor, params.id, body, requestOrigin(req)),
  });
  api.add({
    method: 'GET',
    url: '/nodes/:id/provisioning',
    summary: 'The running or last provisioning run of a node: status, steps and log',
    tag: 'provisioning',
    access: 'read',
    params: idParams,
    response: provisionJobSchema,
    handler: async ({ params }) => s.provisioning.latest(params.id),
  });
}

const streamQuery = z.strictObject({ after: z.coerce.number().int().min(0).optional() });

function withoutLog(job: ProvisionJob): Omit<ProvisionJob, 'log'> {
  const { log: _log, ...rest } = job;
  return rest;
}

/**
 * `GET /nodes/:id/provisioning/stream`: Server-Sent Events of a node's provisioning. First `job` (the state
 * without its log), then every line so far as `line` events (`id:` is the line number, so a reconnecting
 * EventSource resumes after the last line it saw), then live `line` and `step` events, and `done` when the run
 * ends, after which the stream closes. For a run that already ended: its stored lines, then `done`.
 */
export function provisioningStreamRoute(app: FastifyInstance, s: Services, resolve: ActorResolver): void {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });
  app.get(`${API_PREFIX}/nodes/:id/provisioning/stream`, async (req, reply) => {
    if (!(await resolve(req))) throw new UnauthorizedError();
    const params = idParams.safeParse(req.params);
    if (!params.success) throw ValidationError.fromZod(params.error, 'path');
    const query = streamQuery.safeParse(req.query ?? {});
    if (!query.success) throw ValidationError.fromZod(query.error, 'query');
    const lastId = Number(req.headers['last-event-id']);
    const after = Number.isInteger(lastId) && lastId > 0 ? lastId : (query.data.after ?? 0);
    const nodeId = params.data.id;

    let live: JobRun | null = s.provisioning.liveRun(nodeId);
    const stored = live ? null : await s.provisioning.latest(nodeId);
    // The run may have ended during that await: then its stored state is complete.
    live ??= s.provisioning.liveRun(nodeId);

    reply.hijack();
    const res = reply.raw;
    open.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown, id?: number) =>
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const finish = () => {
      open.delete(res);
      res.end();
    };

    if (!live) {
      const job = stored!;
      send('job', withoutLog(job));
      const lines = job.log === '' ? [] : job.log.split('\n');
      lines.forEach((text, i) => {
        if (i + 1 > after) send('line', { seq: i + 1, text }, i + 1);
      });
      if (job.status !== 'running') send('done', { status: job.status, error: job.error, endedAt: job.endedAt });
      return finish();
    }

    const run = live;
    send('job', withoutLog(run.snapshot()));
    for (const l of run.linesAfter(after)) send('line', l, l.seq);
    if (run.status !== 'running') {
      send('done', { status: run.status, error: run.error, endedAt: run.endedAt });
      return finish();
    }
    const onLine = (l: { seq: number; text: string }) => send('line', l, l.seq);
    const onStep = (step: unknown) => send('step', step);
    const onDone = (d: unknown) => {
      send('done', d);
      cleanup();
      finish();
    };
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const cleanup = () => {
      clearInterval(keepAlive);
      run.off('line', onLine);
      run.off('step', onStep);
      run.off('done', onDone);
    };
    run.on('line', onLine);
    run.on('step', onStep);
    run.on('done', onDone);
    req.raw.on('close', () => {
      cleanup();
      open.delete(res);
    });
  });
}
