/**
 * Shared pieces of the integration tests (tests/agent-*.test.ts, and the route and upstream fixtures of the
 * Caddy builder, fleet and dashboard tests): routes, a recording upstream, plain HTTP GETs with a Host header,
 * and a pino logger that keeps its lines for assertions.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Route } from '@caddyfleet/protocol';

/** A central route `id` serving `<id>.test`: an enabled plain-HTTP proxy with no upstreams, unless `fields` say otherwise. */
export function makeRoute(id: string, fields: Partial<Route> = {}): Route {
  return {
    id,
    kind: 'proxy',
    domains: [`${id}.test`],
    listen: null,
    upstreams: [],
    redirect: null,
    nodeId: 'node_test',
    siteId: 'site_test',
    scope: 'exclusive',
    origin: 'central',
    enabled: true,
    tls: 'off',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    revision: 1,
    lastError: null,
    ...fields,
  };
}

export interface Upstream {
  port: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that answers `<label> <host><url>`. */
export async function startUpstream(label: string): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${label} ${req.headers.host}${req.url}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Reply {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:<port><path> with `Host: host`; no keep-alive, 5 s deadline. */
export function httpGet(port: number, host: string, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { Host: host }, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}${path} timed out`)));
    req.on('error', reject);
  });
}

/** The body when the answer is 200, else null (for waitFor). */
export async function bodyOf(port: number, host: string): Promise<string | null> {
  try {
    const r = await httpGet(port, host);
    return r.status === 200 ? r.body : null;
  } catch {
    return null;
  }
}

export interface CapturedLogger {
  log: Logger;
  lines: () => { level: number; msg: string; [k: string]: unknown }[];
  /** All messages joined, for toContain/toMatch. */
  text: () => string;
}

/** A pino logger writing into memory (set CADDYFLEET_TEST_VERBOSE=1 to also see it on stderr). */
export function captureLogger(level: pino.Level = 'debug'): CapturedLogger {
  const raw: string[] = [];
  const verbose = process.env.CADDYFLEET_TEST_VERBOSE === '1';
  const log = pino(
    { level },
    {
      write(line: string) {
        raw.push(line);
        if (raw.length > 20_000) raw.shift();
        if (verbose) process.stderr.write(line);
      },
    },
  );
  const lines = () => raw.map((l) => JSON.parse(l) as { level: number; msg: string });
  return { log, lines, text: () => lines().map((l) => l.msg).join('\n') };
}
