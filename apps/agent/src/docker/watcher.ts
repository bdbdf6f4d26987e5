/**
 * Follows one Docker daemon: subscribes to its event stream, then lists the running containers; every relevant
 * event (throttled), every 30 s, and every reconnection lists them again. Listing is the only source of truth
 * (events only say "look again"), so a missed or reordered event can never leave a wrong route behind. When the
 * daemon goes away the last snapshot stays as it is: routes keep being served until the daemon answers again.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { Backoff, cancellableSleep } from '../backoff';
import { errorMessage } from '../errors';
import { hasDiscoveryLabels } from './labels';
import type { DiscoveredContainer } from './resolve';

/**
 * Events that can change what is served. A container starts serving only with `start` or `unpause`; the others
 * matter only for a container we serve (`kill` and `oom` end in `die`; `create` and the network `connect` of a
 * starting container come before its `start`). Listing for those would spend the throttle window just before
 * the event that counts.
 */
const STARTS = new Set(['start', 'unpause']);
const CHANGES_SERVED = new Set(['die', 'stop', 'destroy', 'pause', 'rename', 'update']);
const NETWORK_ACTIONS = new Set(['connect', 'disconnect']);
/**
 * Docker emits `die` before the list it answers from is updated (the container is still "running" there for a
 * moment, longer on a busy host), and a container that crashes sends nothing after it. So every relevant event
 * is followed by one more list this long after it.
 */
const CONFIRM_MS = 300;
/** An event line longer than this is not Docker talking; the stream is dropped and opened again. */
const MAX_EVENT_LINE = 1024 * 1024;
/** Containers considered per list; a host with more labelled containers gets the first ones and a warning. */
export const MAX_CONTAINERS = 2000;

export interface WatcherOptions {
  docker: Docker;
  prefix: string;
  log: Logger;
  onSnapshot: (containers: DiscoveredContainer[]) => void;
  /** Least time between two lists caused by events (default 100 ms). */
  throttleMs?: number;
  /** Full list even without events (default 30 s). */
  relistMs?: number;
  backoff?: Backoff;
}

type EventStream = NodeJS.ReadableStream & { destroy(err?: Error): void };

export function toDiscovered(c: Docker.ContainerInfo): DiscoveredContainer {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  const networks: Record<string, string> = {};
  for (const [name, net] of Object.entries(c.NetworkSettings?.Networks ?? {})) if (net?.IPAddress) networks[name] = net.IPAddress;
  return {
    id: c.Id,
    name: names.find((n) => !n.includes('/')) ?? c.Id.slice(0, 12),
    state: c.State,
    labels: c.Labels ?? {},
    networkMode: c.HostConfig?.NetworkMode ?? '',
    networks,
    ports: (c.Ports ?? []).map((p) => ({ ip: p.IP ?? '', privatePort: p.PrivatePort, publicPort: p.PublicPort ?? null, type: p.Type })),
  };
}

/** Whether an event line can change what is served, given the containers of the last list (unparsable: yes). */
export function eventMatters(line: string, known: ReadonlySet<string>): boolean {
  try {
    const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    const action = String(e.Action).split(':')[0]!;
    if (e.Type === 'container') return STARTS.has(action) || (CHANGES_SERVED.has(action) && known.has(String(e.Actor?.ID)));
    if (e.Type === 'network') return NETWORK_ACTIONS.has(action) && known.has(String(e.Actor?.Attributes?.container));
    return false;
  } catch {
    return true;
  }
}

export class DockerWatcher {
  connected = false;
  lastError: string | null = null;
  lastListAt: string | null = null;
  lists = 0;
  /** Times the event stream was (re)opened. */
  connects = 0;

  private stopped = false;
  private loop: Promise<void> | null = null;
  private sleep: { cancel: () => void } | null = null;
  private endSession: ((err: Error) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private confirm: NodeJS.Timeout | null = null;
  private listing: Promise<void> | null = null;
  private dirty = false;
  private lastListStart = 0;
  /** Ids of the containers of the last list. */
  private known = new Set<string>();
  private readonly throttleMs: number;
  private readonly relistMs: number;
  private readonly backoff: Backoff;

  constructor(private readonly opts: WatcherOptions) {
    this.throttleMs = opts.throttleMs ?? 100;
    this.relistMs = opts.relistMs ?? 30_000;
    this.backoff = opts.backoff ?? new Backoff(250, 10_000);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleep?.cancel();
    this.endSession?.(new Error('stopping'));
    if (this.timer) clearTimeout(this.timer);
    if (this.confirm) clearTimeout(this.confirm);
    await this.loop;
    await this.listing?.catch(() => {});
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    while (!this.stopped) {
      try {
        await this.session();
      } catch (err) {
        if (this.stopped) break;
        const message = errorMessage(err);
        if (this.connected || this.lastError !== message) log.warn({ err: message }, 'Docker is not reachable; keeping the routes found so far and retrying');
        this.lastError = message;
      }
      this.connected = false;
      if (this.stopped) break;
      const sleep = cancellableSleep(this.backoff.next());
      this.sleep = sleep;
      await sleep.promise;
      this.sleep = null;
    }
  }

  /** One event-stream subscription; resolves never, rejects when the stream ends or a list fails. */
  private async session(): Promise<void> {
    const stream = (await this.opts.docker.getEvents({ filters: { type: ['container', 'network'] } })) as unknown as EventStream;
    this.connects++;
    let relist: NodeJS.Timeout | null = null;
    try {
      await new Promise<void>((_resolve, reject) => {
        let buffer = '';
        let ended = false;
        const end = (err: Error) => {
          if (ended) return;
          ended = true;
          stream.destroy();
          reject(err);
        };
        this.endSession = end;
        stream.on('data', (chunk: Buffer | string) => {
          buffer += chunk.toString();
          if (buffer.length > MAX_EVENT_LINE) return end(new Error('oversized line on the Docker event stream'));
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line && this.relevant(line)) {
              this.schedule();
              this.scheduleConfirm();
            }
          }
        });
        stream.on('error', (err: Error) => end(err));
        stream.on('end', () => end(new Error('the Docker event stream ended (daemon stopped?)')));
        stream.on('close', () => end(new Error('the Docker event stream closed')));
        // Listed after subscribing, so a change between the list and the subscription cannot be missed.
        void this.list().then(
          () => {
            if (ended) return;
            if (!this.connected) this.opts.log.info({ lists: this.lists }, 'watching Docker for labelled containers');
            this.connected = true;
            this.lastError = null;
            this.backoff.reset();
          },
          (err: unknown) => end(err instanceof Error ? err : new Error(String(err))),
        );
        relist = setInterval(() => this.schedule(), this.relistMs);
      });
    } finally {
      if (relist) clearInterval(relist);
      this.endSession = null;
    }
  }

  private relevant(line: string): boolean {
    return eventMatters(line, this.known);
  }

  /** A list now if none ran within the throttle window, else one at its end; bursts collapse into one. */
  private schedule(): void {
    this.dirty = true;
    if (this.timer || this.listing || this.stopped) return;
    const wait = Math.max(0, this.lastListStart + this.throttleMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.list().catch((err: unknown) => this.endSession?.(err instanceof Error ? err : new Error(String(err))));
    }, wait);
  }

  private scheduleConfirm(): void {
    if (this.confirm) clearTimeout(this.confirm);
    this.confirm = setTimeout(() => {
      this.confirm = null;
      this.schedule();
    }, CONFIRM_MS);
  }

  private list(): Promise<void> {
    if (this.listing) {
      this.dirty = true;
      return this.listing;
    }
    this.dirty = false;
    this.lastListStart = Date.now();
    const run = (async () => {
      const all = await this.opts.docker.listContainers({ all: false });
      const found: DiscoveredContainer[] = [];
      for (const c of all) {
        if (c.State !== 'running' || !hasDiscoveryLabels(c.Labels ?? {}, this.opts.prefix)) continue;
        if (found.length >= MAX_CONTAINERS) {
          this.opts.log.warn({ max: MAX_CONTAINERS }, 'more labelled containers than the agent follows; the rest are left out');
          break;
        }
        found.push(toDiscovered(c));
      }
      found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.known = new Set(found.map((c) => c.id));
      this.lists++;
      this.lastListAt = new Date().toISOString();
      if (!this.stopped) this.opts.onSnapshot(found);
    })();
    this.listing = run;
    return run.finally(() => {
      this.listing = null;
      if (this.dirty && !this.stopped) this.schedule();
    });
  }
}
