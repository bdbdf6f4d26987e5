/**
 * Thin fetch wrapper for the controller's REST API (`/api/v1`, same origin, session cookie).
 * Every non-2xx answer becomes an `ApiError` carrying the controller's `{error: {code, message, details}}`.
 */

export const API_PREFIX = '/api/v1';

export interface FieldDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** `details` as a list of `{path, message}` when the controller sent validation details. */
  get fieldDetails(): FieldDetail[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter(
      (d): d is FieldDetail => typeof d === 'object' && d !== null && typeof (d as FieldDetail).path === 'string' && typeof (d as FieldDetail).message === 'string',
    );
  }
}

/** Called when any request answers 401: the session is gone, show the login page. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not call the global 401 handler (the login form handles its own 401). */
  quiet401?: boolean;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  // The controller refuses cookie-authenticated POSTs without a JSON body unless this header is there (CSRF).
  const headers: Record<string, string> = { accept: 'application/json', 'x-requested-with': 'caddyfleet' };
  const init: RequestInit = { method, headers, credentials: 'same-origin', signal: opts.signal ?? null };
  // Endpoints without a body must not receive a JSON content-type with an empty body.
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(API_PREFIX + withQuery(path, opts.query), init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'Cannot reach the controller. Check that it is running and reload.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    const err = new ApiError(
      res.status,
      typeof e?.code === 'string' ? e.code : `http_${res.status}`,
      typeof e?.message === 'string' ? e.message : `${res.status} ${res.statusText || 'request failed'}`,
      e?.details,
    );
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    throw err;
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  del: <T = void>(path: string) => request<T>('DELETE', path),
};

/** A human message for anything thrown by a request. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
