/**
 * A small fetch-based client for the controller's REST API (`/api/v1`). Errors from the server arrive as
 * `{error: {code, message, details?}}` and are thrown as `ApiError`; network failures as `ConnectionError`.
 */
import { CliError, UsageError } from './errors';

export const API_PREFIX = '/api/v1';
export const DEFAULT_URL = 'http://127.0.0.1:8080';
const DEFAULT_TIMEOUT_MS = 30_000;

/** An error response of the API: HTTP status plus the stable `code`, `message` and optional `details`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    hint?: string,
  ) {
    super(message, 1, hint);
    this.name = 'ApiError';
  }
}

/** The controller could not be reached (refused, DNS, timeout, TLS). */
export class ConnectionError extends CliError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'ConnectionError';
  }
}

export interface ApiClientOptions {
  /** Controller base URL, e.g. http://127.0.0.1:8080 (may carry a path prefix when behind a proxy). */
  baseUrl: string;
  /** API token, sent as `Authorization: Bearer …`. */
  token?: string | undefined;
  /** Raw `Cookie` header value (used by `login` between the login and the token creation). */
  cookie?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  headers?: Record<string, string>;
}

/** Validates and normalises a controller URL; throws a UsageError for anything that is not http(s). */
export function normalizeBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`, 'use e.g. --url http://127.0.0.1:8080');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.search || parsed.hash) throw new UsageError('--url must not contain a query string or fragment');
  return parsed.toString().replace(/\/+$/, '');
}

function describeFetchFailure(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'request timed out';
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    if (cause instanceof AggregateError && cause.errors.length) return describeFetchFailure({ cause: cause.errors[0] } as unknown);
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly cookie: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = normalizeBaseUrl(opts.baseUrl);
    this.token = opts.token || undefined;
    this.cookie = opts.cookie || undefined;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** The absolute URL of an API path such as `/routes`. */
  urlOf(path: string, query?: Query): string {
    const url = new URL(this.baseUrl + API_PREFIX + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    // X-Requested-With: the controller requires it on cookie-authenticated POSTs without a JSON body (CSRF).
    const headers: Record<string, string> = { accept: 'application/json', 'x-requested-with': 'caddyfleet-cli', ...opts.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.cookie) headers.cookie = this.cookie;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const url = this.urlOf(path, opts.query);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
    } catch (err) {
      throw new ConnectionError(`cannot reach the controller at ${this.baseUrl}: ${describeFetchFailure(err)}`);
    }
    const text = await res.text();
    let data: unknown = undefined;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!res.ok) throw this.toError(res, data, text);
    if (text.length > 0 && data === undefined) {
      throw new ApiError(res.status, 'bad_response', `${method} ${path}: the controller answered with something that is not JSON`);
    }
    return { status: res.status, headers: res.headers, data: data as T };
  }

  async get<T>(path: string, query?: Query): Promise<T> {
    return (await this.request<T>('GET', path, { query })).data;
  }
  async post<T>(path: string, body: unknown = {}): Promise<T> {
    return (await this.request<T>('POST', path, { body })).data;
  }
  async patch<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>('PATCH', path, { body })).data;
  }
  async delete<T = unknown>(path: string): Promise<T> {
    return (await this.request<T>('DELETE', path)).data;
  }

  /** The credentials this client sends, for requests it does not make itself (event streams). */
  authHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (this.cookie) h.cookie = this.cookie;
    return h;
  }

  private toError(res: Response, data: unknown, text: string): ApiError {
    const e = (data as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    let hint: string | undefined;
    if (res.status === 401 && !this.token && !this.cookie && (code === undefined || code === 'unauthorized')) {
      hint = 'log in with `caddyfleet login --password-stdin` and export CADDYFLEET_TOKEN, or pass --token';
    }
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      return new ApiError(res.status, e.code, e.message, e.details, hint);
    }
    // Not our error shape: a proxy in between, or not a caddyfleet controller at all.
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return new ApiError(res.status, `http_${res.status}`, `${res.statusText || 'HTTP error'}${snippet ? `: ${snippet}` : ''}`, undefined, hint);
  }
}
