/**
 * First contact with the controller: trades the single-use enrollment token for a node id and an agent key.
 * Refusals (4xx) are final and shown with the controller's own message; an unreachable or failing controller
 * is retried a bounded number of times, because a node is often provisioned before the network is fully up.
 */
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import { enrollResponseSchema, hostnameProblem } from '@caddyfleet/protocol';
import { Backoff, cancellableSleep } from './backoff';
import { EnrollError, errorMessage } from './errors';

export const ENROLL_PATH = '/api/v1/agent/enroll';

export interface EnrollRequest {
  controller: string;
  token: string;
  name: string;
  hostname: string;
}

export interface Enrollment {
  nodeId: string;
  agentKey: string;
}

/** `base` + `path`, keeping a path prefix the controller may be mounted under. */
export function controllerUrl(base: string, path: string, protocol?: 'ws' | 'http'): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  if (protocol === 'ws') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** The host name in a form the controller accepts (RFC 1123, lower case); odd characters become hyphens. */
export function reportableHostname(raw: string = osHostname()): string {
  const labels = raw
    .toLowerCase()
    .split('.')
    .map((l) => l.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, ''))
    .filter((l) => l.length > 0);
  const name = labels.join('.').slice(0, 253).replace(/[.-]+$/, '');
  return name && hostnameProblem(name, false) === null ? name : 'unknown';
}

/** Reads `{error: {code, message}}` from a controller error response; falls back to the raw text. */
export async function controllerError(res: Response): Promise<{ code: string | null; message: string }> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === 'string') {
      return { code: typeof body.error.code === 'string' ? body.error.code : null, message: body.error.message };
    }
  } catch {
    // Not JSON.
  }
  return { code: null, message: text.trim().slice(0, 500) || res.statusText || `HTTP ${res.status}` };
}

/** One attempt. Throws EnrollError; `final` tells whether trying again could help. */
export async function enrollOnce(req: EnrollRequest, timeoutMs = 15_000): Promise<Enrollment> {
  const url = controllerUrl(req.controller, ENROLL_PATH);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: req.token, name: req.name, hostname: req.hostname }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? cause.message : errorMessage(err);
    throw new EnrollError(`cannot reach the controller at ${req.controller}: ${detail}`, null, null, false);
  }
  if (!res.ok) {
    const { code, message } = await controllerError(res);
    // A refusal will not change by asking again (401: bad/used/expired token, 400: bad name); overload might.
    const final = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
    throw new EnrollError(`enrollment refused by the controller (HTTP ${res.status}${code ? ` ${code}` : ''}): ${message}`, res.status, code, final);
  }
  const parsed = enrollResponseSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new EnrollError(`the controller at ${req.controller} answered the enrollment with an unexpected body`, res.status, null, true);
  return parsed.data;
}

export interface EnrollRetryOptions {
  log: Logger;
  backoff: Backoff;
  maxAttempts?: number;
  /** Stops the retries early (agent stopping). */
  isStopped?: () => boolean;
}

/** Enrolls, retrying transient failures up to `maxAttempts` times (default 8). */
export async function enroll(req: EnrollRequest, opts: EnrollRetryOptions): Promise<Enrollment> {
  const max = opts.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await enrollOnce(req);
      opts.log.info({ nodeId: result.nodeId, controller: req.controller }, 'enrolled with the controller');
      return result;
    } catch (err) {
      if (!(err instanceof EnrollError) || err.final || attempt >= max || opts.isStopped?.()) throw err;
      const delay = opts.backoff.next();
      opts.log.warn({ err: err.message, attempt, retryInMs: delay }, 'enrollment failed; retrying');
      await cancellableSleep(delay).promise;
    }
  }
}
