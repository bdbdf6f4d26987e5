/**
 * Routes managed on this node itself (scope local_only, origin local), kept in local-routes.json. They are
 * validated with the same schema as the controller's `POST /routes`, so a route the agent accepts is one the
 * controller could mirror.
 */
import { randomBytes } from 'node:crypto';
import { hostBitRangeProblems, LIMITS, localDomainCount, routeCreateSchema } from '@caddyfleet/protocol';
import { localDuplicate } from './merge';
import type { StateStore, StoredLocalRoute } from './state';

/** Same ceilings as the `local-routes` frame accepts. */
export const MAX_LOCAL_ROUTES = LIMITS.localRoutesPerFrame;
export const MAX_LOCAL_DOMAINS = LIMITS.localDomainsPerFrame;

/** A request the local API answers with a 4xx: `status` and `code` go into `{error: {code, message}}`. */
export class LocalRouteInputError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: string,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'LocalRouteInputError';
  }
}

export function newLocalId(): string {
  return `loc_${randomBytes(8).toString('hex')}`;
}

export class LocalRouteStore {
  private routes: StoredLocalRoute[] = [];
  // Writes go out in order; without the chain two quick changes could land on disk last-first.
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: StateStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async load(): Promise<void> {
    this.routes = await this.state.readLocalRoutes();
  }

  list(): StoredLocalRoute[] {
    return [...this.routes];
  }

  get(id: string): StoredLocalRoute | undefined {
    return this.routes.find((r) => r.id === id);
  }

  /** Validates `input` like `POST /routes` (scope forced to local_only), stores it and returns it with its new id. */
  async add(input: unknown): Promise<StoredLocalRoute> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new LocalRouteInputError(400, 'validation_failed', 'the body must be a JSON object describing a route');
    }
    if (this.routes.length >= MAX_LOCAL_ROUTES) {
      throw new LocalRouteInputError(409, 'too_many_routes', `a node keeps at most ${MAX_LOCAL_ROUTES} local routes`);
    }
    // Local routes belong to this node alone; whatever the client sent for these two is overridden.
    const parsed = routeCreateSchema.safeParse({ ...input, scope: 'local_only', nodeId: null });
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
      const first = details[0];
      throw new LocalRouteInputError(400, 'validation_failed', `invalid route: ${first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid input'}`, details);
    }
    const ranges = hostBitRangeProblems(parsed.data.kind === 'proxy' ? parsed.data.options : null);
    if (ranges.length) {
      const details = ranges.map((p) => ({ path: ['options', ...p.path].join('.'), message: p.message }));
      throw new LocalRouteInputError(400, 'validation_failed', `invalid route: ${details[0]!.path}: ${details[0]!.message}`, details);
    }
    if (localDomainCount(this.routes) + localDomainCount([parsed.data]) > MAX_LOCAL_DOMAINS) {
      throw new LocalRouteInputError(409, 'too_many_routes', `a node's local routes have at most ${MAX_LOCAL_DOMAINS} domains in total`);
    }
    const at = this.now().toISOString();
    const route: StoredLocalRoute = { ...parsed.data, id: newLocalId(), createdAt: at, updatedAt: at };
    const duplicate = localDuplicate(route, this.routes);
    if (duplicate) throw new LocalRouteInputError(409, 'local_route_conflict', duplicate);
    this.routes = [...this.routes, route];
    await this.persist();
    return route;
  }

  /** Removes a route; returns it, or null when there was none with that id. */
  async remove(id: string): Promise<StoredLocalRoute | null> {
    const route = this.get(id);
    if (!route) return null;
    this.routes = this.routes.filter((r) => r.id !== id);
    await this.persist();
    return route;
  }

  private persist(): Promise<void> {
    const snapshot = this.list();
    const write = this.writes.then(() => this.state.writeLocalRoutes(snapshot));
    this.writes = write.catch(() => {});
    return write;
  }
}
