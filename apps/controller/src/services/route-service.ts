import { LIMITS, routeCreateSchema, type Route, type RouteCreate, type RouteKind, type RoutePatch } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import type { RouteTable } from '../db/schema';
import { newId } from '../crypto';
import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError, isSerializationFailure, isUniqueViolation } from '../errors';
import { audit } from './audit-service';
import { LOCAL_NODE_ID, type Actor, type RouteChange, type ServiceContext } from './context';
import { bumpRevision } from './node-service';
import { bulkPatch, sameIndex } from './route-bulk-patch';
import { checkAccessRanges, checkListen, checkModules, knownProblem, type NodeFacts } from './route-checks';
import { dbNodeId, routeToApi, routeToInput, specOf, type RouteSpec } from './route-mapping';

export interface RouteQuery {
  nodeId?: string | undefined;
  siteId?: string | undefined;
  kind?: RouteKind | undefined;
  origin?: Route['origin'] | undefined;
}

/** What a write did, and which node revisions it moved and how (announced once the transaction committed). */
interface Written<T> {
  value: T;
  bumped: [string, number][];
  changes: RouteChange[];
}

export interface RouteBatch {
  create: RouteCreate[];
  update: { id: string; patch: RoutePatch }[];
  delete: string[];
}

const KIND_FIELDS: Record<RouteKind, string[]> = {
  proxy: ['domains', 'upstreams', 'tls', 'options'],
  redirect: ['domains', 'redirect', 'tls'],
  stream: ['listen', 'upstreams', 'sni', 'proxyProtocol'],
  dead: ['domains', 'tls'],
};

function localOnly(): ForbiddenError {
  return new ForbiddenError('route_scope_local_only', 'local_only routes are managed on their agent and are read-only here');
}

export class RouteService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(q: RouteQuery = {}): Promise<Route[]> {
    let query = this.ctx.db.selectFrom('routes').selectAll().orderBy('created_at').orderBy('id');
    if (q.nodeId) query = query.where('node_id', '=', q.nodeId);
    if (q.siteId) query = query.where('site_id', '=', q.siteId);
    if (q.kind) query = query.where('kind', '=', q.kind);
    if (q.origin) query = query.where('origin', '=', q.origin);
    return (await query.execute()).map(routeToApi);
  }

  async get(id: string): Promise<Route> {
    return routeToApi(await this.getRow(this.ctx.db, id));
  }

  create(actor: Actor, input: RouteCreate): Promise<Route> {
    return this.write((trx) => this.createIn(trx, actor, input));
  }

  patch(actor: Actor, id: string, patch: RoutePatch): Promise<Route> {
    return this.write((trx) => this.patchIn(trx, actor, id, patch));
  }

  async remove(actor: Actor, id: string): Promise<void> {
    await this.write((trx) => this.removeIn(trx, actor, id));
  }

  /**
   * Several creates, patches and deletes in one transaction: all of them commit or none does. A change to a
   * group of routes spread over many nodes reaches every node from the same commit.
   */
  batch(actor: Actor, ops: RouteBatch): Promise<{ created: Route[]; updated: Route[]; deleted: string[] }> {
    return this.write(async (trx) => {
      const bumped: [string, number][] = [];
      const changes: RouteChange[] = [];
      const out = { created: [] as Route[], updated: [] as Route[], deleted: [] as string[] };
      const step = async <T>(kind: string, index: number, fn: () => Promise<Written<T>>): Promise<T> => {
        try {
          const r = await fn();
          bumped.push(...r.bumped);
          changes.push(...r.changes);
          return r.value;
        } catch (err) {
          if (err instanceof AppError) throw new AppError(err.status, err.code, `${kind}[${index}]: ${err.message}`, { op: kind, index, cause: err.details });
          throw err;
        }
      };
      for (const [i, input] of ops.create.entries()) out.created.push(await step('create', i, () => this.createIn(trx, actor, input)));
      const bulk = await bulkPatch(trx, this.ctx, actor, ops.update, (before, patch) => this.merge(before, patch));
      if (bulk) {
        out.updated.push(...bulk.updated);
        bumped.push(...bulk.bumped);
        changes.push(...bulk.changes);
      } else {
        for (const [i, u] of ops.update.entries()) out.updated.push(await step('update', i, () => this.patchIn(trx, actor, u.id, u.patch)));
      }
      for (const [i, id] of ops.delete.entries()) {
        await step('delete', i, () => this.removeIn(trx, actor, id));
        out.deleted.push(id);
      }
      return { value: out, bumped, changes };
    });
  }

  private async createIn(trx: Db, actor: Actor, input: RouteCreate): Promise<Written<Route>> {
    if (input.scope === 'local_only') throw localOnly();
    if (input.kind === 'proxy') checkAccessRanges(input.options, null);
    const nodeId = dbNodeId(input.nodeId);
    const node = await this.requireNode(trx, nodeId, true);
    await this.checkCapacity(trx, nodeId);
    const spec = specOf(input);
    checkModules(node, input);
    await this.checkConflicts(trx, node, spec, null);
    const revision = await bumpRevision(trx, nodeId);
    const now = this.ctx.now().toISOString();
    const row: RouteTable = {
      id: newId('rt'),
      kind: input.kind,
      node_id: nodeId,
      site_id: node.site_id,
      scope: input.scope,
      origin: 'central',
      enabled: input.enabled ? 1 : 0,
      tls: input.tls,
      spec: JSON.stringify(spec),
      revision,
      last_error: knownProblem(input, node),
      created_at: now,
      updated_at: now,
    };
    await trx.insertInto('routes').values(row).execute();
    await this.indexRoute(trx, row.id, nodeId, spec);
    const created = routeToApi(row);
    await audit(trx, this.ctx, actor, 'create', 'route', row.id, null, created);
    return { value: created, bumped: [[nodeId, revision]], changes: [{ nodeId, revision, upsert: created }] };
  }

  private async patchIn(trx: Db, actor: Actor, id: string, patch: RoutePatch): Promise<Written<Route>> {
    if (patch.scope === 'local_only') throw localOnly();
    const beforeRow = await this.getRow(trx, id, true);
    const before = routeToApi(beforeRow);
    if (before.scope === 'local_only') throw localOnly();
    const merged = this.merge(before, patch);
    const next = { ...routeToInput(before), ...merged };
    const parsed = routeCreateSchema.safeParse(next);
    if (!parsed.success) throw ValidationError.fromZod(parsed.error);
    const input = parsed.data;
    if (input.kind === 'proxy') checkAccessRanges(input.options, before.options);
    const nodeId = dbNodeId(input.nodeId);
    const spec = specOf(input);
    const unchanged =
      nodeId === beforeRow.node_id &&
      JSON.stringify(spec) === beforeRow.spec &&
      (input.enabled ? 1 : 0) === beforeRow.enabled &&
      input.tls === beforeRow.tls;
    if (unchanged) return { value: before, bumped: [], changes: [] };
    const node = await this.requireNode(trx, nodeId, nodeId !== beforeRow.node_id);
    if (nodeId !== beforeRow.node_id) await this.checkCapacity(trx, nodeId);
    checkModules(node, input);
    // The domain and port index is only touched when what it holds changes (an upstream edit leaves it alone), or
    // when a disabled route is enabled: one moved here disabled because of a clash (node removal) is not indexed.
    const reindex =
      nodeId !== beforeRow.node_id || (beforeRow.enabled === 0 && input.enabled) || !sameIndex(spec, JSON.parse(beforeRow.spec) as RouteSpec);
    if (reindex) await this.checkConflicts(trx, node, spec, id);
    const bumped: [string, number][] = [];
    const changes: RouteChange[] = [];
    if (nodeId !== beforeRow.node_id) {
      const moved = await bumpRevision(trx, beforeRow.node_id);
      bumped.push([beforeRow.node_id, moved]);
      changes.push({ nodeId: beforeRow.node_id, revision: moved, remove: id });
    }
    const revision = await bumpRevision(trx, nodeId);
    bumped.push([nodeId, revision]);
    const row: RouteTable = {
      ...beforeRow,
      node_id: nodeId,
      site_id: node.site_id,
      enabled: input.enabled ? 1 : 0,
      tls: input.tls,
      spec: JSON.stringify(spec),
      revision,
      // A problem reported by the old node says nothing about the new one; the new node reports its own. A route
      // being enabled again is reported afresh too (a disabled one may carry a note such as a reassignment conflict).
      last_error: nodeId === beforeRow.node_id && !(beforeRow.enabled === 0 && input.enabled) ? beforeRow.last_error : knownProblem(input, node),
      updated_at: this.ctx.now().toISOString(),
    };
    await trx.updateTable('routes').set(row).where('id', '=', id).execute();
    if (reindex) {
      await trx.deleteFrom('route_domains').where('route_id', '=', id).execute();
      await trx.deleteFrom('route_listens').where('route_id', '=', id).execute();
      await this.indexRoute(trx, id, nodeId, spec);
    }
    const after = routeToApi(row);
    await audit(trx, this.ctx, actor, 'update', 'route', id, before, after);
    changes.push({ nodeId, revision, upsert: after });
    return { value: after, bumped, changes };
  }

  private async removeIn(trx: Db, actor: Actor, id: string): Promise<Written<undefined>> {
    const row = await this.getRow(trx, id, true);
    if (row.scope === 'local_only') throw localOnly();
    await trx.deleteFrom('routes').where('id', '=', id).execute();
    const revision = await bumpRevision(trx, row.node_id);
    await audit(trx, this.ctx, actor, 'delete', 'route', id, routeToApi(row), null);
    return { value: undefined, bumped: [[row.node_id, revision]], changes: [{ nodeId: row.node_id, revision, remove: id }] };
  }

  async countByKind(): Promise<Record<string, number>> {
    const rows = await this.ctx.db.selectFrom('routes').select((eb) => ['kind', eb.fn.countAll<number>().as('n')]).groupBy('kind').execute();
    return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
  }

  /** Fields of a patch that do not belong to the route's kind are refused rather than silently dropped. */
  private merge(before: Route, patch: RoutePatch): Record<string, unknown> {
    const allowed = new Set(['nodeId', 'scope', 'enabled', ...KIND_FIELDS[before.kind]]);
    const out: Record<string, unknown> = {};
    const wrong: { path: string; message: string }[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (!allowed.has(key)) wrong.push({ path: key, message: `not a field of ${before.kind} routes` });
      else out[key] = value;
    }
    if (wrong.length) throw new ValidationError(`invalid body: ${wrong[0]!.path}: ${wrong[0]!.message}`, wrong);
    return out;
  }

  /** Runs a write transaction, then tells the hub which node revisions moved (only once committed). */
  private async write<T>(fn: (trx: Db) => Promise<Written<T>>): Promise<T> {
    let result: Written<T> | undefined;
    for (let attempt = 1; !result; attempt++) {
      try {
        result = await this.ctx.db.transaction().execute(fn);
      } catch (err) {
        if (err instanceof AppError) throw err;
        // A concurrent writer won the race the pre-check could not see; the unique index is the last word.
        if (isUniqueViolation(err)) throw new ConflictError('domain_conflict', 'a route on this node already serves that domain or port');
        // Two writers locking the same nodes in opposite order: PostgreSQL aborts one; it simply runs again.
        if (isSerializationFailure(err) && attempt < 4) continue;
        throw err;
      }
    }
    for (const change of result.changes) this.ctx.events.emit('route-change', change);
    for (const [nodeId, revision] of result.bumped) this.ctx.events.emit('revision', nodeId, revision);
    return result.value;
  }

  /**
   * Reads a route for a change. On PostgreSQL the row is locked, so two concurrent PATCHes apply one after the
   * other instead of the second overwriting the first with its stale copy (SQLite serializes transactions).
   */
  private async getRow(trx: Db, id: string, forUpdate = false): Promise<RouteTable> {
    let q = trx.selectFrom('routes').selectAll().where('id', '=', id);
    if (forUpdate && this.ctx.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new NotFoundError('route', id);
    return row;
  }

  /** `arriving`: the route is created on or moved to this node (a route already there may still be edited). */
  private async requireNode(trx: Db, nodeId: string, arriving: boolean): Promise<NodeFacts> {
    if (arriving && nodeId === LOCAL_NODE_ID && !this.ctx.localNodeEnabled) {
      throw new ConflictError(
        'local_node_disabled',
        'this controller runs without a local node (--no-local-node): choose the node that should serve the route (nodeId)',
        { path: 'nodeId' },
      );
    }
    const node = await trx
      .selectFrom('nodes')
      .select(['id', 'name', 'site_id', 'caddy_modules', 'http_port', 'https_port'])
      .where('id', '=', nodeId)
      .executeTakeFirst();
    if (!node) throw new ValidationError(`node ${nodeId} does not exist`, [{ path: 'nodeId', message: 'does not exist' }]);
    return node;
  }

  /** A node holds at most `routesPerNode` central routes: what one host's Caddy is given stays bounded. */
  private async checkCapacity(trx: Db, nodeId: string): Promise<void> {
    const { n } = await trx
      .selectFrom('routes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('node_id', '=', nodeId)
      .where('scope', '=', 'exclusive')
      .executeTakeFirstOrThrow();
    const limit = this.ctx.routesPerNode ?? LIMITS.routesPerNode;
    if (Number(n) >= limit) {
      throw new ConflictError('too_many_routes', `node ${nodeId} already has ${limit} routes, the most one node may hold`, { limit });
    }
  }

  private async checkConflicts(trx: Db, node: NodeFacts, spec: RouteSpec, selfId: string | null): Promise<void> {
    const nodeId = node.id;
    if (spec.domains.length) {
      let q = trx
        .selectFrom('route_domains')
        .select(['route_id', 'domain'])
        .where('node_id', '=', nodeId)
        .where('domain', 'in', spec.domains);
      if (selfId) q = q.where('route_id', '!=', selfId);
      const clash = await q.executeTakeFirst();
      if (clash) {
        throw new ConflictError('domain_conflict', `domain ${clash.domain} is already served on this node by route ${clash.route_id}`, {
          domain: clash.domain,
          routeId: clash.route_id,
        });
      }
    }
    if (spec.listen) await checkListen(trx, this.ctx.dialect, node, spec.listen, spec.sni ?? [], selfId);
  }

  private async indexRoute(trx: Db, routeId: string, nodeId: string, spec: RouteSpec): Promise<void> {
    if (spec.domains.length) {
      await trx
        .insertInto('route_domains')
        .values(spec.domains.map((domain) => ({ route_id: routeId, node_id: nodeId, domain })))
        .execute();
    }
    if (spec.listen) {
      const { port, protocol } = spec.listen;
      // One row per server name, or one '' row for a stream taking the whole port: the unique index then refuses
      // the same name, or two whole-port streams, on one port even when two writers race past the checks.
      const names = spec.sni?.length ? spec.sni : [''];
      await trx
        .insertInto('route_listens')
        .values(names.map((sni) => ({ route_id: routeId, node_id: nodeId, port, protocol, sni })))
        .execute();
    }
  }
}
