/**
 * Decides when each connected node gets what. At most one sync is in flight per node: a change to an idle node
 * goes out at once; changes that arrive while one is in flight, or soon after the last push, are gathered until
 * no change came for a short quiet gap (so a burst of edits reaches Caddy as one reload, however it is paced,
 * up to the gap), but never longer than `maxDelayMs` after the first of them, so a steady stream still reaches
 * the node about every second. What goes out is a `delta` from the revision the
 * node has, or a full `sync` on (re)connect, on request (`resync`), for protocol-1 agents, and whenever the delta
 * would not be smaller.
 */
import type { Logger } from 'pino';
import { LIMITS } from '@caddyfleet/protocol';
import type { AgentSession } from './agent-session';
import type { NodeRoutesCache } from './node-routes';

export interface PushTiming {
  /** Gathered changes wait until none came for this long… */
  quietMs: number;
  /** …but at most this long after the first of them. */
  maxDelayMs: number;
  /** A change within this long after the last push is taken as part of a burst and gathered. */
  recentMs: number;
}

export const DEFAULT_PUSH_TIMING: PushTiming = { quietMs: 80, maxDelayMs: 1000, recentMs: 100 };

interface PushState {
  /** Set once the node's starting point (its applied revision) is known. */
  ready: boolean;
  /** Revision the node has, or will have once it processed what was sent; -1 when unknown. */
  sent: number;
  inFlight: boolean;
  /** The next push must be a full sync. */
  full: boolean;
  pushing: boolean;
  /** Date.now() of the first change not sent yet (0: none), and of the latest. */
  pendingSince: number;
  lastChangeAt: number;
  lastPushAt: number;
  timer: NodeJS.Timeout | null;
}

export class SyncPusher {
  /** Frames sent (full syncs and deltas). */
  syncsSent = 0;
  deltasSent = 0;
  private readonly states = new WeakMap<AgentSession, PushState>();

  constructor(
    private readonly cache: NodeRoutesCache,
    private readonly sessions: Map<string, AgentSession>,
    private readonly log: Logger,
    private readonly timing: PushTiming = DEFAULT_PUSH_TIMING,
  ) {}

  private state(s: AgentSession): PushState {
    let st = this.states.get(s);
    if (!st) {
      st = { ready: false, sent: -1, inFlight: false, full: false, pushing: false, pendingSince: 0, lastChangeAt: 0, lastPushAt: 0, timer: null };
      this.states.set(s, st);
    }
    return st;
  }

  /** After `hello`: the node runs `applied`; it gets the full state when that is not the current revision. */
  async connected(s: AgentSession, applied: number): Promise<void> {
    const routes = await this.cache.get(s.nodeId);
    if (!routes || this.sessions.get(s.nodeId) !== s || !s.ready) return;
    const st = this.state(s);
    st.ready = true;
    st.sent = applied;
    if (routes.revision !== applied) {
      st.full = true;
      await this.push(s);
    }
  }

  /** The write path moved a node's revision. */
  changed(nodeId: string, revision: number): void {
    this.cache.noteRevision(nodeId, revision);
    const s = this.sessions.get(nodeId);
    if (!s?.ready) return;
    const st = this.state(s);
    if (!st.ready || revision <= st.sent) return;
    const now = Date.now();
    st.lastChangeAt = now;
    if (!st.pendingSince) st.pendingSince = now;
    if (st.inFlight || st.pushing) return;
    if (st.timer || now - st.lastPushAt < this.timing.recentMs) return this.arm(s, st);
    void this.push(s);
  }

  /** The node acknowledged `revision` (applied or refused: either way it is done with it). */
  acked(s: AgentSession, revision: number): void {
    const st = this.state(s);
    if (revision < st.sent) return;
    st.inFlight = false;
    if (st.pendingSince) this.arm(s, st);
  }

  /** The node could not apply a delta: it gets the full state now. */
  resync(s: AgentSession): void {
    const st = this.state(s);
    if (!st.ready) return;
    st.inFlight = false;
    st.full = true;
    if (st.timer) clearTimeout(st.timer);
    st.timer = null;
    void this.push(s);
  }

  /** Re-reads nodes whose missing revision never arrived, and pushes them the result. */
  repair(): void {
    for (const nodeId of this.cache.stale()) {
      void Promise.resolve(this.cache.get(nodeId)).then(
        (routes) => routes && this.changed(nodeId, routes.revision),
        (err: unknown) => this.log.error({ err, node: nodeId }, 'could not re-read the routes of a node'),
      );
    }
  }

  /**
   * The node's routes stay cached (and current): a node that reconnects gets its full sync without a read,
   * from the JSON already made.
   */
  disconnected(s: AgentSession): void {
    const st = this.states.get(s);
    if (st?.timer) clearTimeout(st.timer);
    if (st) st.timer = null;
  }

  /** A node that was removed or revoked: nothing of it is kept. */
  forget(nodeId: string): void {
    this.cache.drop(nodeId);
  }

  private arm(s: AgentSession, st: PushState): void {
    if (st.timer) clearTimeout(st.timer);
    const due = Math.min(st.lastChangeAt + this.timing.quietMs, st.pendingSince + this.timing.maxDelayMs);
    st.timer = setTimeout(() => {
      st.timer = null;
      void this.push(s);
    }, Math.max(0, due - Date.now()));
  }

  private async push(s: AgentSession): Promise<void> {
    const st = this.state(s);
    if (st.inFlight || st.pushing) return;
    st.pushing = true;
    try {
      const routes = await this.cache.get(s.nodeId);
      if (!routes || this.sessions.get(s.nodeId) !== s || !s.ready || st.inFlight) return;
      if (routes.revision <= st.sent && !st.full) {
        st.pendingSince = 0;
        return;
      }
      let frame = !st.full && s.protocolVersion >= 2 && st.sent >= 0 ? routes.deltaFrame(st.sent, LIMITS.routesPerDelta) : null;
      if (frame) this.deltasSent++;
      else frame = routes.syncFrame();
      this.syncsSent++;
      st.sent = routes.revision;
      st.inFlight = true;
      st.full = false;
      st.pendingSince = 0;
      st.lastPushAt = Date.now();
      s.sendText(frame);
      routes.trim(st.sent);
    } catch (err) {
      this.log.error({ err, node: s.nodeId }, 'push failed');
    } finally {
      st.pushing = false;
    }
  }
}
