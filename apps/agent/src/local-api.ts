/**
 * A small HTTP API on `<stateDir>/agent.sock` for `caddyfleet agent routes add|list|rm`. A unix socket (0600,
 * in a 0700 directory) means file permissions are the authentication: only the agent's user (and root) can
 * talk to it, and it is unreachable from the network by construction.
 */
import { createConnection } from 'node:net';
import http from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { LIMITS } from '@caddyfleet/protocol';
import { errorMessage } from './errors';
import { LocalRouteInputError } from './local-routes';
import type { AgentStatusSnapshot, LocalRouteAddResult, LocalRouteView } from './status';

export interface LocalApiHandlers {
  list(): LocalRouteView[];
  add(input: unknown): Promise<LocalRouteAddResult>;
  /** False when there is no such route. */
  remove(id: string): Promise<boolean>;
  status(): Promise<AgentStatusSnapshot>;
}

/** Caddy refused the config with the new route; the route was not kept. */
export class CaddyRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaddyRejectedError';
  }
}

export interface LocalApiServer {
  socketPath: string;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function fail(res: http.ServerResponse, status: number, code: string, message: string, details?: unknown): void {
  send(res, status, { error: { code, message, ...(details !== undefined ? { details } : {}) } });
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Keep reading (and dropping) so the answer can still be sent; requestTimeout bounds a sender that never ends.
      if (size <= LIMITS.apiBodyBytes) chunks.push(c);
    });
    req.on('end', () => {
      if (size > LIMITS.apiBodyBytes) {
        reject(new LocalRouteInputError(400, 'body_too_large', `the body must be at most ${LIMITS.apiBodyBytes} bytes`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new LocalRouteInputError(400, 'invalid_json', 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** True when something answers on the socket (another agent on the same state dir). */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ path: socketPath });
    const timer = setTimeout(() => done(false), 1000);
    function done(answer: boolean) {
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    }
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export async function startLocalApi(socketPath: string, handlers: LocalApiHandlers, log: Logger): Promise<LocalApiServer> {
  // The socket doubles as a lock: a second agent on the same state dir would fight over Caddy and the files.
  if (await socketAnswers(socketPath)) {
    throw new Error(`another agent is already running with this state directory (its local API answers on ${socketPath})`);
  }
  await rm(socketPath, { force: true });

  const server = http.createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      if (err instanceof LocalRouteInputError) return fail(res, err.status, err.code, err.message, err.details);
      if (err instanceof CaddyRejectedError) return fail(res, 422, 'caddy_rejected', err.message);
      log.error({ err: errorMessage(err), method: req.method, url: req.url }, 'local API request failed');
      if (!res.headersSent) fail(res, 500, 'internal', errorMessage(err));
    });
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (path === '/routes') {
      if (method === 'GET') return send(res, 200, { routes: handlers.list() });
      if (method === 'POST') {
        const result = await handlers.add(await readJson(req));
        log.info({ id: result.route.id, kind: result.route.kind }, 'local route added');
        return send(res, 201, result);
      }
      return fail(res, 405, 'method_not_allowed', `${method} is not allowed on /routes`);
    }
    const m = /^\/routes\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (m) {
      if (method !== 'DELETE') return fail(res, 405, 'method_not_allowed', `${method} is not allowed on /routes/:id`);
      const id = m[1]!;
      if (!(await handlers.remove(id))) return fail(res, 404, 'not_found', `local route ${id} not found`);
      log.info({ id }, 'local route removed');
      return send(res, 204);
    }
    if (path === '/status' && method === 'GET') return send(res, 200, await handlers.status());
    return fail(res, 404, 'not_found', `no such endpoint: ${method} ${path}`);
  }

  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  log.info({ socket: socketPath }, 'local API listening');

  return {
    socketPath,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}
