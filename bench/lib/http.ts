/**
 * HTTP helpers: a small client of the controller's API (session cookie, JSON, bounded), plain GETs against a
 * node's Caddy with a Host header, and a fast bounded poller used to detect when a change is served.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  private cookie = '';
  constructor(readonly baseUrl: string) {}

  static async login(baseUrl: string, password: string): Promise<ApiClient> {
    const c = new ApiClient(baseUrl);
    const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status !== 200) throw new ApiError(res.status, await res.text(), `login failed: HTTP ${res.status}`);
    c.cookie = String(res.headers.get('set-cookie')).split(';')[0]!;
    return c;
  }

  /** Any 2xx returns the parsed body; anything else throws ApiError. */
  async req<T = any>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers: { cookie: this.cookie, 'x-requested-with': 'bench', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* keep the text */
    }
    if (res.status < 200 || res.status >= 300) {
      throw new ApiError(res.status, parsed, `${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    }
    return parsed as T;
  }

  get<T = any>(path: string): Promise<T> {
    return this.req<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown): Promise<T> {
    return this.req<T>('POST', path, body ?? {});
  }
  patch<T = any>(path: string, body: unknown): Promise<T> {
    return this.req<T>('PATCH', path, body);
  }
}

export interface HostReply {
  status: number;
  body: string;
}

/**
 * A node's plain-HTTP listener. Polls reuse one keep-alive connection (cheap enough to poll every 2 ms);
 * when Caddy reloads it closes idle connections of the old server, the next poll then fails once and
 * reconnects, which is simply "not yet".
 */
export class HostTarget {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  constructor(
    readonly ip: string,
    readonly port: number,
  ) {}

  get(host: string, timeoutMs = 2000): Promise<HostReply> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: this.ip, port: this.port, path: '/', headers: { Host: host }, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${host} via ${this.ip}:${this.port} timed out`)));
      req.on('error', reject);
    });
  }

  /** The reply, or null on any network error. */
  async tryGet(host: string): Promise<HostReply | null> {
    try {
      return await this.get(host);
    } catch {
      return null;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));

export interface PollResult {
  /** ms from `t0` to the first matching reply; NaN on timeout. */
  ms: number;
  polls: number;
  /** The last reply seen (for error messages). */
  last: HostReply | null;
}

/**
 * Polls `host` on `target` every `intervalMs` until `match` accepts a reply or `timeoutMs` has passed since
 * `t0` (a performance.now() value taken before the change was sent). Bounded in count and time.
 */
export async function pollServed(
  target: HostTarget,
  host: string,
  match: (r: HostReply) => boolean,
  t0: number,
  opts: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<PollResult> {
  const intervalMs = opts.intervalMs ?? 2;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const maxPolls = Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 10;
  let last: HostReply | null = null;
  for (let polls = 1; polls <= maxPolls; polls++) {
    const r = await target.tryGet(host);
    const now = performance.now();
    if (r) last = r;
    if (r && match(r)) return { ms: now - t0, polls, last };
    if (now - t0 > timeoutMs) return { ms: NaN, polls, last };
    await sleep(intervalMs);
  }
  return { ms: NaN, polls: maxPolls, last };
}

/** Retries `fn` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  for (let i = 0; i < 1_000_000; i++) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
}
