/**
 * Client of the agent's local API (`<stateDir>/agent.sock`), for `caddyfleet agent routes add|list|rm`.
 * Only node:http and types: the CLI can load it without loading the agent.
 */
import http from 'node:http';
import path from 'node:path';
import type { RouteCreateInput } from '@caddyfleet/protocol';
import type { AgentStatusSnapshot, LocalRouteAddResult, LocalRouteView } from './status';

export const LOCAL_API_SOCKET = 'agent.sock';

/** The agent answered with an error (`status` > 0), or could not be reached (`status` 0, code `unreachable`). */
export class LocalApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'LocalApiError';
  }
}

/** Omit applied to each member of a union (plain Omit would merge the route kinds into one shape). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Body of `POST /routes`: the controller's route input; `scope` and `nodeId` are set by the agent. */
export type LocalRouteInput = OmitEach<RouteCreateInput, 'scope' | 'nodeId'>;

export class LocalApiClient {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  static forStateDir(stateDir: string, timeoutMs?: number): LocalApiClient {
    return new LocalApiClient(path.join(path.resolve(stateDir), LOCAL_API_SOCKET), timeoutMs);
  }

  async list(): Promise<LocalRouteView[]> {
    return (await this.request<{ routes: LocalRouteView[] }>('GET', '/routes')).routes;
  }

  /** Adds a route; resolves once the agent re-applied Caddy's config (see `applied` and `route.lastError`). */
  add(route: LocalRouteInput): Promise<LocalRouteAddResult> {
    return this.request<LocalRouteAddResult>('POST', '/routes', route);
  }

  async remove(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/routes/${encodeURIComponent(id)}`);
  }

  status(): Promise<AgentStatusSnapshot> {
    return this.request<AgentStatusSnapshot>('GET', '/status');
  }

  private request<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (text !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(text));
    }
    return new Promise<T>((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method, path: urlPath, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const raw = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = raw ? JSON.parse(raw) : undefined;
          } catch {
            return reject(new LocalApiError(status, 'bad_response', `the agent answered ${status} with a body that is not JSON`));
          }
          if (status >= 200 && status < 300) return resolve(json as T);
          const err = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
          reject(new LocalApiError(status, err?.code ?? 'error', err?.message ?? `the agent answered HTTP ${status}`, err?.details));
        });
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? `no agent is running with this state directory (nothing answers on ${this.socketPath})`
            : err.code === 'EACCES'
              ? `permission denied on ${this.socketPath} (run as the agent's user or root)`
              : `cannot talk to the agent on ${this.socketPath}: ${err.message}`;
        reject(new LocalApiError(0, 'unreachable', why));
      });
      req.end(text);
    });
  }
}
