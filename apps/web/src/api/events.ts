/**
 * The controller's Server-Sent Events feed (`GET /api/v1/events`, session cookie). One EventSource for the
 * whole app; handlers subscribe by event name. The browser retries dropped streams by itself; when it gives up
 * (the stream answered an error status) we reconnect with a bounded backoff.
 */
import { API_PREFIX, api } from './client';

export type FeedStatus = 'idle' | 'connecting' | 'open' | 'reconnecting';
type Handler = (data: unknown) => void;

/** `routes` ({nodeId}): a node's reported route problems (route.lastError) or its local routes changed. */
const EVENT_NAMES = ['node', 'node-removed', 'revision', 'routes'] as const;
export type FeedEvent = (typeof EVENT_NAMES)[number];

const MAX_BACKOFF_MS = 30_000;

class EventFeed {
  private es: EventSource | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private running = false;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly openListeners = new Set<() => void>();
  private readonly statusListeners = new Set<() => void>();
  status: FeedStatus = 'idle';

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.es?.close();
    this.es = null;
    this.attempt = 0;
    this.setStatus('idle');
  }

  on(event: FeedEvent, handler: Handler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Called on every (re)connection: state may have changed while the stream was down, so refetch. */
  onOpen(fn: () => void): () => void {
    this.openListeners.add(fn);
    return () => this.openListeners.delete(fn);
  }

  subscribeStatus = (fn: () => void): (() => void) => {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  };

  getStatus = (): FeedStatus => this.status;

  private setStatus(s: FeedStatus): void {
    if (this.status === s) return;
    this.status = s;
    for (const l of this.statusListeners) l();
  }

  private connect(): void {
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const es = new EventSource(`${API_PREFIX}/events`);
    this.es = es;
    let wasOpen = false;
    es.onopen = () => {
      const reconnected = this.attempt > 0 || wasOpen;
      wasOpen = true;
      this.attempt = 0;
      this.setStatus('open');
      if (reconnected || this.openListeners.size) for (const l of this.openListeners) l();
    };
    es.onerror = () => {
      if (this.es !== es) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The browser is retrying on its own.
        this.setStatus('reconnecting');
        return;
      }
      es.close();
      this.es = null;
      if (!this.running) return;
      this.setStatus('reconnecting');
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
      this.attempt += 1;
      // A closed stream is often an expired session: asking who we are triggers the login page on 401.
      api.get('/auth/me').catch(() => {});
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.running) this.connect();
      }, delay);
    };
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (ev) => {
        let data: unknown;
        try {
          data = JSON.parse((ev as MessageEvent<string>).data);
        } catch {
          return;
        }
        for (const h of this.handlers.get(name) ?? []) h(data);
      });
    }
  }
}

export const feed = new EventFeed();
