import http from 'node:http';
import { describeEndpoint, parseAdminEndpoint, type CaddyAdminEndpoint } from './admin-endpoint';

/** Caddy's admin API could not be reached, timed out, or answered a non-2xx status. */
export class CaddyAdminError extends Error {
  /** HTTP status, or null when no response arrived (connection refused, timeout, ...). */
  readonly status: number | null;
  constructor(message: string, status: number | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaddyAdminError';
    this.status = status;
  }
}

/** Caddy answered `POST /load` with an error: the config was rejected and the previous one keeps running. */
export class CaddyLoadError extends CaddyAdminError {
  constructor(message: string, status: number) {
    super(message, status);
    this.name = 'CaddyLoadError';
  }
}

export interface CaddyAdminOptions {
  /** Deadline for each whole call (connect, send, receive). Default 10 s. */
  timeoutMs?: number;
}

interface AdminResponse {
  status: number;
  body: string;
}

/** Caddy reports failures as `{"error": "..."}`; fall back to the raw text for anything else. */
function errorText(res: AdminResponse): string {
  try {
    const parsed: unknown = JSON.parse(res.body);
    if (parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return res.body.trim() || `HTTP ${res.status}`;
}

const ok = (status: number) => status >= 200 && status < 300;
/** Status reads (upstreams, metrics) are read every few seconds: a larger answer is cut off, not buffered. */
const MAX_STATUS_BYTES = 32 * 1024 * 1024;

export class CaddyAdmin {
  readonly endpoint: CaddyAdminEndpoint;
  private readonly timeoutMs: number;

  /** `target`: `http://127.0.0.1:2019`, `127.0.0.1:2019`, `unix:/path/admin.sock`, `unix//path/admin.sock` or an endpoint object. */
  constructor(target: string | CaddyAdminEndpoint, options: CaddyAdminOptions = {}) {
    this.endpoint = typeof target === 'string' ? parseAdminEndpoint(target) : target;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Replaces Caddy's whole config. Throws CaddyLoadError with Caddy's message when Caddy rejects it. */
  async load(config: object | string): Promise<void> {
    const body = typeof config === 'string' ? config : JSON.stringify(config);
    // must-revalidate: without it Caddy skips a config identical to the running one, so a reload meant
    // to retry (say, a listener that failed to bind earlier) would silently do nothing.
    const res = await this.request('POST', '/load', body, { 'Cache-Control': 'must-revalidate' });
    if (!ok(res.status)) throw new CaddyLoadError(errorText(res), res.status);
  }

  /** The running config (null when Caddy runs with an empty one). */
  async getConfig(): Promise<unknown> {
    const res = await this.request('GET', '/config/');
    if (!ok(res.status)) throw new CaddyAdminError(`GET /config/ failed: ${errorText(res)}`, res.status);
    return JSON.parse(res.body) as unknown;
  }

  /**
   * Adapts a config (a Caddyfile by default) to JSON without loading it; throws CaddyAdminError with Caddy's
   * message when it does not adapt. Safe to call on a Caddy serving traffic: nothing it runs changes.
   */
  async adapt(text: string, contentType = 'text/caddyfile'): Promise<unknown> {
    const res = await this.request('POST', '/adapt', text, { 'Content-Type': contentType });
    if (!ok(res.status)) throw new CaddyAdminError(`POST /adapt failed: ${errorText(res)}`, res.status);
    return JSON.parse(res.body) as unknown;
  }

  /** `GET /reverse_proxy/upstreams`: Caddy's upstream pool with request and failure counters (see upstream-status.ts). */
  async reverseProxyUpstreams(): Promise<unknown> {
    const res = await this.request('GET', '/reverse_proxy/upstreams', undefined, {}, MAX_STATUS_BYTES);
    if (!ok(res.status)) throw new CaddyAdminError(`GET /reverse_proxy/upstreams failed: ${errorText(res)}`, res.status);
    return JSON.parse(res.body) as unknown;
  }

  /** `GET /metrics`: Caddy's Prometheus text. */
  async metrics(): Promise<string> {
    const res = await this.request('GET', '/metrics', undefined, {}, MAX_STATUS_BYTES);
    if (!ok(res.status)) throw new CaddyAdminError(`GET /metrics failed: ${errorText(res)}`, res.status);
    return res.body;
  }

  /** Asks Caddy to exit gracefully. */
  async stop(): Promise<void> {
    const res = await this.request('POST', '/stop');
    if (!ok(res.status)) throw new CaddyAdminError(`POST /stop failed: ${errorText(res)}`, res.status);
  }

  /** True when the admin API answers and accepts our requests; never throws. */
  async ping(): Promise<boolean> {
    try {
      // The admin section is tiny, unlike the full config of a busy node.
      return ok((await this.request('GET', '/config/admin')).status);
    } catch {
      return false;
    }
  }

  private request(method: string, path: string, body?: string, headers: Record<string, string> = {}, maxBytes = Infinity): Promise<AdminResponse> {
    const where = describeEndpoint(this.endpoint);
    const allHeaders: Record<string, string> = { ...headers };
    if (body !== undefined) {
      allHeaders['Content-Type'] ??= 'application/json';
      allHeaders['Content-Length'] = String(Buffer.byteLength(body));
    }
    let target: http.RequestOptions;
    if ('socketPath' in this.endpoint) {
      // Caddy only accepts an empty Host on a unix socket (RFC 7230: no internet host, empty Host);
      // Node would send "localhost", which Caddy 2.6 rejects with 403 "host not allowed".
      target = { socketPath: this.endpoint.socketPath, setHost: false };
      allHeaders.Host = '';
    } else {
      target = { host: this.endpoint.host, port: this.endpoint.port };
    }

    return new Promise<AdminResponse>((resolve, reject) => {
      // A fresh connection per call: admin calls are rare, and pooled sockets would outlive Caddy restarts.
      const req = http.request({ ...target, method, path, headers: allHeaders, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new CaddyAdminError(`${method} ${path} at ${where}: answer larger than ${maxBytes} bytes`, null));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', fail);
      });
      const timer = setTimeout(
        () => req.destroy(new CaddyAdminError(`${method} ${path} at ${where} timed out after ${this.timeoutMs} ms`, null)),
        this.timeoutMs,
      );
      function fail(err: Error) {
        clearTimeout(timer);
        reject(err instanceof CaddyAdminError ? err : new CaddyAdminError(`${method} ${path} at ${where} failed: ${err.message}`, null, { cause: err }));
      }
      req.on('error', fail);
      req.end(body);
    });
  }
}
