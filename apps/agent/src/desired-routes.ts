/**
 * The controller's routes for this node as received: a full `sync` replaces them, a `delta` changes them and
 * only applies on top of exactly the revision it was computed from. Kept apart from what Caddy accepted
 * (a refused revision still is the base of the next delta the controller sends).
 */
import type { ControllerFrame, Route, SourcedDockerEntry } from '@caddyfleet/protocol';

export type DeltaFrame = Extract<ControllerFrame, { type: 'delta' }>;

export class DesiredRoutes {
  private routes = new Map<string, Route>();
  revision = 0;
  /** Docker sites of other nodes this node serves; they come with full syncs only (a delta leaves them). */
  docker: SourcedDockerEntry[] = [];

  /** Starts over from `routes` at `revision` (a full sync, or what was applied when a connection starts). */
  reset(revision: number, routes: readonly Route[], docker: SourcedDockerEntry[] = []): void {
    this.revision = revision;
    this.routes = new Map(routes.map((r) => [r.id, r]));
    this.docker = docker;
  }

  /** False, changing nothing, when the delta is not based on the current revision. */
  apply(delta: DeltaFrame): boolean {
    if (delta.base !== this.revision) return false;
    for (const id of delta.remove) this.routes.delete(id);
    for (const r of delta.upsert) this.routes.set(r.id, r);
    this.revision = delta.revision;
    return true;
  }

  /** A snapshot: later deltas do not change the returned array. */
  list(): Route[] {
    return [...this.routes.values()];
  }
}
