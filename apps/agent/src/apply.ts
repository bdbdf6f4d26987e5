/**
 * Turns routes into a running Caddy config. Everything that changes Caddy (syncs, local route edits, restores
 * after a Caddy restart, drift repairs) runs one at a time through a single queue, so a drift check can never
 * "repair" Caddy back to a config that a concurrent sync was replacing.
 */
import type { Logger } from 'pino';
import { buildCaddyConfig, CaddyLoadError, type BuildOptions, type CaddyAdmin, type CaddyConfig } from '@caddyfleet/caddy';
import { MAX_ROUTE_ERRORS, type AgentFrame, type ControllerFrame, type DockerRouteView, type Route, type SourcedDockerEntry } from '@caddyfleet/protocol';
import { AppliedWriter } from './applied-writer';
import { DesiredRoutes, type DeltaFrame } from './desired-routes';
import { streamPortsOf } from './stream-ports';
import { errorMessage } from './errors';
import { mergeRoutes, type RouteError } from './merge';
import { stableStringify } from './stable-json';
import type { AppliedState, StateStore, StoredLocalRoute } from './state';

export type SyncFrame = Extract<ControllerFrame, { type: 'sync' }>;
export type AckFrame = Extract<AgentFrame, { type: 'ack' }>;

/** Limits of the ack frame; Caddy's messages can be long (they quote the config). */
const MAX_ERROR = 8192;
const MAX_ROUTE_ERROR = 2048;

export interface ApplyOutcome {
  ok: boolean;
  revision: number;
  /** Caddy's (or the builder's) message when not ok. */
  error?: string;
  /** Unsupported routes and local routes that conflict with central ones. */
  routeErrors: RouteError[];
  /** Whether `/load` was called (false when the rendered config equalled the running one). */
  loaded: boolean;
  /** Caddy refused the config (it keeps the previous one); false for success and for an unreachable Caddy. */
  rejected: boolean;
  /** Routes rendered into the config. */
  served: number;
}

export interface ApplierDeps {
  admin: CaddyAdmin;
  build: BuildOptions;
  state: StateStore;
  /** The current local routes (read at every render). */
  localRoutes: () => StoredLocalRoute[];
  /** The Docker sites this node found and serves itself (read at every render). */
  dockerEntries?: () => SourcedDockerEntry[];
  nodeId: string | null;
  log: Logger;
  /** Where acks go (the controller connection); called for every sync outcome that is not superseded. */
  onAck?: (ack: AckFrame) => void;
  /**
   * Caddy refused a config while starting its listeners. Such a refusal is not clean: servers of the refused
   * config that had already started keep running (caddyserver/caddy#7175). Called without waiting, outside
   * the apply queue, so the handler may restart Caddy (whose restore goes through the queue).
   */
  onStartFailure?: (error: string) => void;
}

/** Caddy's message for a config whose apps failed in Start (listeners), as opposed to validation/provisioning. */
export function isStartFailure(message: string): boolean {
  return /\bstart: /.test(message);
}

interface CentralRoutes {
  revision: number;
  routes: Route[];
  /** Docker sites of other nodes this node serves (they come with the sync). */
  docker: SourcedDockerEntry[];
}

function centralOf(applied: AppliedState | null): CentralRoutes {
  return applied ? { revision: applied.revision, routes: applied.routes, docker: applied.dockerRoutes ?? [] } : { revision: 0, routes: [], docker: [] };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 3) + '...';
}

export class Applier {
  /** Number of `POST /load` calls made (the benchmark watches this). */
  loadCount = 0;
  /** What Caddy was last successfully given, as persisted in applied.json, and its config as JSON. */
  private applied: AppliedState | null = null;
  private appliedJson: string | null = null;
  /** Key-sorted JSON of the applied config, for comparing with what Caddy reports (made when first needed). */
  private appliedStable: { of: string; stable: string } | null = null;
  /**
   * JSON of the config Caddy runs as far as we know; null = unknown, so the next apply always loads. The
   * builder's output is deterministic, so a plain JSON.stringify of it is comparable from one render to the next.
   */
  private loadedJson: string | null = null;
  /** The central routes local edits are rendered against: the last applied sync, or a newer one still to retry. */
  private central: CentralRoutes = { revision: 0, routes: [], docker: [] };
  /**
   * An apply that failed for a transient reason (Caddy unreachable), retried by `retryPending` and `restore`;
   * 'sync' when a sync is among them, so its ack goes out once it works.
   */
  private pendingRetry: 'sync' | 'local' | null = null;
  private lastRouteErrors: RouteError[] = [];
  private lastDocker: DockerRouteView[] = [];
  private lastServed = 0;
  /** The stream ports last written for the host firewall; null: not written by this process yet. */
  private lastStreamPorts: string | null = null;
  /** The controller's routes as received; renders are coalesced to the newest of them. */
  private readonly desired = new DesiredRoutes();
  private receipts = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly writer: AppliedWriter;

  constructor(private readonly deps: ApplierDeps) {
    this.writer = new AppliedWriter(deps.state, deps.log);
  }

  /** The node this agent is (it changes when the agent enrolls again); local routes are rendered under it. */
  get nodeId(): string | null {
    return this.deps.nodeId;
  }
  set nodeId(id: string | null) {
    this.deps.nodeId = id;
  }

  /** Reads applied.json; must run before anything else. */
  async init(): Promise<void> {
    this.applied = await this.deps.state.readApplied();
    if (this.applied) {
      this.central = centralOf(this.applied);
      this.appliedJson = JSON.stringify(this.applied.config);
    }
    this.resetDesired();
  }

  /**
   * A new controller connection starts from what was applied (that is what `hello` reports): the controller
   * sends a full sync when that is not its current revision, and bases its deltas on it otherwise.
   */
  resetDesired(): void {
    this.desired.reset(this.applied?.revision ?? 0, this.applied?.routes ?? [], this.applied?.dockerRoutes ?? []);
  }

  /** Revision of the controller's routes as last received (what a `resync` reports). */
  get desiredRevision(): number {
    return this.desired.revision;
  }

  /** Resolves once applied.json holds the last applied state. */
  persisted(): Promise<void> {
    return this.writer.flushed();
  }

  get appliedRevision(): number {
    return this.applied?.revision ?? 0;
  }
  get routeErrors(): RouteError[] {
    return this.lastRouteErrors;
  }
  get served(): number {
    return this.lastServed;
  }
  /** Docker routes of the last render, served or not, with their problems. */
  get dockerRoutes(): DockerRouteView[] {
    return this.lastDocker;
  }
  /** The config Caddy should be running (what drift checks compare against), or null before the first apply. */
  get expectedConfig(): CaddyConfig | null {
    return this.loadedJson === null ? null : (this.applied?.config ?? null);
  }

  /**
   * Applies a full sync. When several syncs or deltas arrive while one is being applied only the newest state
   * is applied (and acked); the others resolve to null. The controller treats an ack for revision N as
   * covering the ones before it.
   */
  applySync(frame: SyncFrame): Promise<ApplyOutcome | null> {
    this.desired.reset(frame.revision, frame.routes, frame.dockerRoutes ?? []);
    return this.applyDesired();
  }

  /**
   * Applies a delta on top of the routes received so far; null, changing nothing, when it is not based on
   * them (the caller then asks the controller for a full sync).
   */
  applyDelta(frame: DeltaFrame): Promise<ApplyOutcome | null> | null {
    if (!this.desired.apply(frame)) return null;
    return this.applyDesired();
  }

  private applyDesired(): Promise<ApplyOutcome | null> {
    const receipt = ++this.receipts;
    return this.exclusive(async () => {
      if (receipt !== this.receipts) return null;
      const outcome = await this.render({ revision: this.desired.revision, routes: this.desired.list(), docker: this.desired.docker }, 'sync');
      this.deps.onAck?.(this.ackOf(outcome));
      return outcome;
    });
  }

  /**
   * Re-renders after a local route change, against the current central routes. Not coalesced: the caller
   * (the local API) answers with this outcome, and an unchanged render costs no `/load` anyway.
   */
  applyLocalChange(): Promise<ApplyOutcome> {
    return this.exclusive(() => this.render(this.central, 'local'));
  }

  /**
   * After Caddy (re)started or at agent start: puts the last applied config back (from applied.json, known to
   * have been accepted), then renders the current routes on top, which is skipped when nothing changed.
   */
  restore(): Promise<void> {
    return this.exclusive(async () => {
      this.loadedJson = null;
      const foreign = this.applied ? this.foreignPaths(this.applied.config) : null;
      if (foreign) {
        // Loading it would move Caddy's admin endpoint (or storage) to another state dir: render it afresh.
        this.deps.log.warn({ found: foreign, expected: { admin: this.deps.build.adminListen, storage: this.deps.build.storageDir ?? null } }, 'applied.json was written for another state dir or admin endpoint; rendering the config again instead of loading it');
      } else if (this.applied && this.appliedJson !== null) {
        const json = this.appliedJson;
        let running: string | null = null;
        try {
          running = stableStringify(await this.deps.admin.getConfig());
        } catch {
          // Unknown; load below.
        }
        if (running === this.stableApplied()) {
          this.loadedJson = json;
          this.deps.log.info({ revision: this.applied.revision }, 'Caddy already runs the last applied config');
        } else {
          try {
            await this.load(json);
            this.loadedJson = json;
            this.deps.log.info({ revision: this.applied.revision }, 'restored the last applied config from applied.json');
          } catch (err) {
            this.deps.log.error({ err: errorMessage(err) }, 'could not restore the last applied config');
          }
        }
      }
      const retrying = this.pendingRetry;
      // No restart hook from here: restore runs right after a (re)start, and a config that cannot bind its
      // listeners (port taken by another program) would otherwise restart Caddy in a loop.
      const outcome = await this.render(this.central, retrying ?? 'local', false);
      if (retrying === 'sync' && (outcome.ok || outcome.rejected)) this.deps.onAck?.(this.ackOf(outcome));
    });
  }

  /** The admin endpoint or storage of a stored config when they are not this agent's, else null. */
  private foreignPaths(config: CaddyConfig): { admin?: string; storage?: string } | null {
    const out: { admin?: string; storage?: string } = {};
    if (config.admin?.listen !== this.deps.build.adminListen) out.admin = config.admin?.listen ?? '(none)';
    if ((config.storage?.root ?? undefined) !== this.deps.build.storageDir) out.storage = config.storage?.root ?? '(none)';
    return Object.keys(out).length ? out : null;
  }

  /** Retries an apply that failed because Caddy could not be reached; a no-op otherwise. */
  retryPending(): Promise<void> {
    if (!this.pendingRetry) return Promise.resolve();
    return this.exclusive(async () => {
      const retrying = this.pendingRetry;
      if (!retrying) return;
      const outcome = await this.render(this.central, retrying);
      if (retrying === 'sync' && (outcome.ok || outcome.rejected)) this.deps.onAck?.(this.ackOf(outcome));
    });
  }

  /**
   * Compares Caddy's running config with the one applied and re-loads the applied one when they differ.
   * Returns 'repaired' when drift was found and fixed, 'ok' when none, 'skipped' when nothing was applied yet.
   */
  checkDrift(): Promise<'ok' | 'repaired' | 'skipped'> {
    return this.exclusive(async () => {
      const json = this.loadedJson;
      if (json === null || this.appliedJson === null) return 'skipped' as const;
      const running = await this.deps.admin.getConfig();
      if (stableStringify(running) === this.stableApplied()) return 'ok' as const;
      this.deps.log.warn({ revision: this.appliedRevision }, "Caddy's running config differs from the applied one (drift); re-loading it");
      this.loadedJson = null;
      await this.load(json);
      this.loadedJson = json;
      this.deps.log.info({ revision: this.appliedRevision }, 'drift repaired');
      return 'repaired' as const;
    });
  }

  ackOf(outcome: ApplyOutcome): AckFrame {
    const ack: AckFrame = {
      type: 'ack',
      revision: outcome.revision,
      ok: outcome.ok,
      routeErrors: outcome.routeErrors.slice(0, MAX_ROUTE_ERRORS).map((e) => ({ routeId: e.routeId, error: truncate(e.error, MAX_ROUTE_ERROR) })),
    };
    if (outcome.error !== undefined) ack.error = truncate(outcome.error, MAX_ERROR);
    return ack;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Key-sorted JSON of the applied config, made once per applied config. */
  private stableApplied(): string {
    const json = this.appliedJson!;
    if (this.appliedStable?.of !== json) this.appliedStable = { of: json, stable: stableStringify(this.applied!.config) };
    return this.appliedStable.stable;
  }

  private async load(configJson: string): Promise<void> {
    this.loadCount++;
    await this.deps.admin.load(configJson);
  }

  private async render(central: CentralRoutes, why: 'sync' | 'local', mayRestart = true): Promise<ApplyOutcome> {
    const started = performance.now();
    const dockerEntries = [...(this.deps.dockerEntries?.() ?? []), ...central.docker];
    const { routes, conflicts, docker } = mergeRoutes(central.routes, this.deps.localRoutes(), this.deps.nodeId, dockerEntries);
    this.lastDocker = docker;
    let built;
    try {
      built = buildCaddyConfig(routes, this.deps.build);
    } catch (err) {
      // Only bad options get here, and those are checked at start-up; report rather than crash.
      this.deps.log.error({ err: errorMessage(err), revision: central.revision }, 'could not render the Caddy config');
      return { ok: false, revision: central.revision, error: errorMessage(err), routeErrors: conflicts, loaded: false, rejected: true, served: this.lastServed };
    }
    const routeErrors = [...built.unsupported.map((u) => ({ routeId: u.routeId, error: u.reason })), ...conflicts];
    const streamPorts = streamPortsOf(routes, new Set(built.unsupported.map((u) => u.routeId)));
    const json = JSON.stringify(built.config);
    const base = { revision: central.revision, routeErrors, served: built.served };

    if (json === this.loadedJson) {
      this.deps.log.info({ revision: central.revision, why }, 'load skipped: config unchanged');
      this.pendingRetry = null;
      await this.commit(central, built.config, json, routeErrors, built.served, streamPorts);
      return { ...base, ok: true, loaded: false, rejected: false };
    }

    try {
      await this.load(json);
    } catch (err) {
      const message = errorMessage(err);
      if (err instanceof CaddyLoadError) {
        // Caddy's /load is atomic: it keeps running the previous config. Local edits keep rendering against
        // the last central routes Caddy accepted, not the rejected ones.
        this.pendingRetry = null;
        this.central = centralOf(this.applied);
        this.deps.log.error({ revision: central.revision, why, error: message }, 'Caddy rejected the config; it keeps the previous one');
        if (mayRestart && isStartFailure(message) && this.deps.onStartFailure) {
          const hook = this.deps.onStartFailure;
          setImmediate(() => hook(message));
        }
      } else {
        // Caddy is unreachable (restarting?): what it runs is unknown, and this sync is worth retrying.
        this.loadedJson = null;
        this.central = central;
        this.pendingRetry = why === 'sync' || this.pendingRetry === 'sync' ? 'sync' : 'local';
        this.deps.log.warn({ revision: central.revision, why, error: message }, 'could not reach Caddy to apply the config; will retry');
      }
      return { ...base, ok: false, error: message, loaded: true, rejected: err instanceof CaddyLoadError };
    }
    this.loadedJson = json;
    this.pendingRetry = null;
    await this.commit(central, built.config, json, routeErrors, built.served, streamPorts);
    const ms = Math.round(performance.now() - started);
    this.deps.log.info({ revision: central.revision, why, routes: built.served, ms }, `${why === 'sync' ? 'sync' : 'local change'} applied (revision ${central.revision}) in ${ms} ms`);
    return { ...base, ok: true, loaded: true, rejected: false };
  }

  /** Records what Caddy now runs; applied.json is written in the background, after the ack. */
  private async commit(central: CentralRoutes, config: CaddyConfig, json: string, routeErrors: RouteError[], served: number, streamPorts: string[]): Promise<void> {
    this.central = central;
    this.lastRouteErrors = routeErrors;
    this.lastServed = served;
    const portsKey = streamPorts.join(' ');
    if (portsKey !== this.lastStreamPorts) {
      try {
        await this.deps.state.writeStreamPorts(streamPorts);
        this.lastStreamPorts = portsKey;
      } catch (err) {
        this.deps.log.error({ err: errorMessage(err) }, 'could not write the stream ports file');
      }
    }
    if (this.applied !== null && this.applied.revision === central.revision && this.appliedJson === json) return;
    this.applied = { revision: central.revision, routes: central.routes, config, appliedAt: new Date().toISOString() };
    if (central.docker.length) this.applied.dockerRoutes = central.docker;
    this.appliedJson = json;
    this.writer.write(this.applied);
  }
}
