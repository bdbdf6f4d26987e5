/**
 * The routes each node should serve, kept in memory: loaded from the database once, when the node first
 * connects, then kept current by the write path's `route-change` events (one per revision a write produced),
 * so a change costs the hub the change and not a re-read of the node's routes. Each route's JSON is made once
 * and reused by every frame that carries it.
 *
 * Events may arrive out of revision order (concurrent PostgreSQL transactions); they are held until the gap
 * before them is filled. A revision that no change describes (Docker sites handed to the node by another one,
 * routes moved to the local node when a node is deleted) makes the copy stale: it is read again before the next
 * push, which is then a full sync. A gap that stays open is repaired the same way after a while.
 */
import type { Route, SourcedDockerEntry } from '@caddyfleet/protocol';
import type { RouteChange, ServiceContext } from '../services/context';
import { desiredState } from './desired-state';

/** After this long, a missing revision is no longer waited for: the node's routes are read again. */
const GAP_TIMEOUT_MS = 2000;
/** Changes remembered for deltas beyond this are dropped (the next push to such a node is a full sync). */
const MAX_LOG = 20_000;

export class NodeRoutes {
  /** Route id → the route and its JSON (made on first use). */
  private readonly routes = new Map<string, { route: Route; json: string | null }>();
  /** Which route each revision after `logFrom` changed, for deltas. */
  private log: { revision: number; id: string }[] = [];
  private logFrom: number;
  /** Changes that arrived ahead of a missing revision, by revision. */
  private readonly held = new Map<number, RouteChange>();
  /** The ids in order, and the last full sync frame, until a change makes them stale. */
  private sortedIds: string[] | null = null;
  private syncText: { revision: number; text: string } | null = null;
  /** Highest revision announced for this node; above `revision` while a change is missing. */
  known: number;
  gapSince = 0;
  /** A revision moved that no change event describes: read the node again. */
  stale = false;

  constructor(
    public revision: number,
    routes: Route[],
    /** Docker sites of other nodes this node serves; they change only with an undescribed revision. */
    private readonly docker: SourcedDockerEntry[] = [],
  ) {
    for (const r of routes) this.routes.set(r.id, { route: r, json: null });
    this.logFrom = revision;
    this.known = revision;
  }

  get size(): number {
    return this.routes.size;
  }

  /** Applies a change in revision order; one at or below the current revision is already included. */
  apply(change: RouteChange): void {
    if (change.revision > this.known) this.known = change.revision;
    if (change.revision <= this.revision) return;
    this.held.set(change.revision, change);
    for (let next = this.held.get(this.revision + 1); next; next = this.held.get(this.revision + 1)) {
      this.held.delete(next.revision);
      if (next.upsert) {
        if (!this.routes.has(next.upsert.id)) this.sortedIds = null;
        this.routes.set(next.upsert.id, { route: next.upsert, json: null });
      } else if (next.remove) {
        this.routes.delete(next.remove);
        this.sortedIds = null;
      }
      this.revision = next.revision;
      const id = next.upsert?.id ?? next.remove;
      if (id !== undefined) this.log.push({ revision: next.revision, id });
    }
    if (this.log.length > MAX_LOG) {
      this.log = [];
      this.logFrom = this.revision;
    }
    this.gapSince = this.known > this.revision ? this.gapSince || Date.now() : 0;
  }

  /** Every `revision` event comes after the `route-change` events of the same write, if it has any. */
  noteRevision(revision: number): void {
    if (revision > this.known) this.known = revision;
    if (revision > this.revision && !this.held.has(revision)) this.stale = true;
    if (this.known > this.revision && !this.gapSince) this.gapSince = Date.now();
  }

  /** Forgets the changes a node already has (it was sent everything up to `revision`). */
  trim(revision: number): void {
    if (revision < this.logFrom) return;
    let drop = 0;
    while (drop < this.log.length && this.log[drop]!.revision <= revision) drop++;
    if (drop) this.log = this.log.slice(drop);
    this.logFrom = revision;
  }

  private jsonOf(entry: { route: Route; json: string | null }): string {
    return (entry.json ??= JSON.stringify(entry.route));
  }

  /** The routes, ordered by id as the database read returns them. */
  list(): Route[] {
    return [...this.routes.values()].map((e) => e.route).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The full `sync` frame as text (kept until the next change: a fleet reconnecting gets it from memory). */
  syncFrame(): string {
    if (this.syncText?.revision === this.revision) return this.syncText.text;
    this.sortedIds ??= [...this.routes.keys()].sort();
    const parts = this.sortedIds.map((id) => this.jsonOf(this.routes.get(id)!));
    // Left out when there are none, so agents from before Docker discovery still parse the frame.
    const docker = this.docker.length ? `,"dockerRoutes":${JSON.stringify(this.docker)}` : '';
    const text = `{"type":"sync","revision":${this.revision},"routes":[${parts.join(',')}]${docker}}`;
    this.syncText = { revision: this.revision, text };
    return text;
  }

  /**
   * The `delta` frame from `base` to the current revision as text, or null when the changes since `base` are
   * no longer known or a full sync would be as small.
   */
  deltaFrame(base: number, maxEntries: number): string | null {
    if (base < this.logFrom || base >= this.revision) return null;
    const changed = new Set<string>();
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.revision > base; i--) changed.add(this.log[i]!.id);
    if (changed.size > maxEntries || changed.size > this.routes.size / 2 + 50) return null;
    const upsert: string[] = [];
    const remove: string[] = [];
    for (const id of changed) {
      const entry = this.routes.get(id);
      if (entry) upsert.push(this.jsonOf(entry));
      else remove.push(id);
    }
    return `{"type":"delta","base":${base},"revision":${this.revision},"upsert":[${upsert.join(',')}],"remove":${JSON.stringify(remove)}}`;
  }
}

/** The cache of every node that connected since the controller started, until the node is removed or revoked. */
export class NodeRoutesCache {
  private readonly nodes = new Map<string, NodeRoutes>();
  private readonly loading = new Map<string, { promise: Promise<NodeRoutes | null>; held: RouteChange[] }>();
  /** Bumped by drop(), so a read that finishes after its node went away is not kept. */
  private readonly generation = new Map<string, number>();

  constructor(private readonly ctx: ServiceContext) {
    ctx.events.on('route-change', (c) => this.onChange(c));
  }

  private onChange(change: RouteChange): void {
    this.nodes.get(change.nodeId)?.apply(change);
    this.loading.get(change.nodeId)?.held.push(change);
  }

  /** Called for every `revision` event: a revision the cache does not reach yet is a gap to watch. */
  noteRevision(nodeId: string, revision: number): void {
    this.nodes.get(nodeId)?.noteRevision(revision);
  }

  /** The node's routes: from memory, or read once (concurrent callers share the read). Null: no such node. */
  get(nodeId: string): NodeRoutes | Promise<NodeRoutes | null> {
    const entry = this.nodes.get(nodeId);
    if (entry && !entry.stale && !(entry.gapSince && Date.now() - entry.gapSince > GAP_TIMEOUT_MS)) return entry;
    return this.load(nodeId);
  }

  private load(nodeId: string): Promise<NodeRoutes | null> {
    const pending = this.loading.get(nodeId);
    if (pending) return pending.promise;
    const held: RouteChange[] = [];
    const generation = this.generation.get(nodeId) ?? 0;
    const promise = desiredState(this.ctx, nodeId).then(
      (state) => {
        this.loading.delete(nodeId);
        if (!state) {
          this.nodes.delete(nodeId);
          return null;
        }
        const entry = new NodeRoutes(state.revision, state.routes, state.dockerRoutes);
        for (const c of held) entry.apply(c);
        if ((this.generation.get(nodeId) ?? 0) === generation) this.nodes.set(nodeId, entry);
        return entry;
      },
      (err: unknown) => {
        this.loading.delete(nodeId);
        throw err;
      },
    );
    this.loading.set(nodeId, { promise, held });
    return promise;
  }

  /** Nodes whose missing revision has been waited for long enough: the caller reloads and pushes them. */
  stale(): string[] {
    const now = Date.now();
    return [...this.nodes].filter(([, e]) => e.gapSince && now - e.gapSince > GAP_TIMEOUT_MS).map(([id]) => id);
  }

  drop(nodeId: string): void {
    this.nodes.delete(nodeId);
    if (this.loading.has(nodeId)) this.generation.set(nodeId, (this.generation.get(nodeId) ?? 0) + 1);
    else this.generation.delete(nodeId);
  }
}
