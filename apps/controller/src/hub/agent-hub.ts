import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, LIMITS } from '@caddyfleet/protocol';
import { isDatabaseUnavailable } from '../db/availability';
import { AppError, RateLimitedError } from '../errors';
import type { Services } from '../services';
import { refreshModuleNotes } from '../services/route-module-notes';
import { DockerRouteService } from '../services/docker-route-service';
import { LocalRouteService } from '../services/local-route-service';
import { AgentSession, type AgentHandlers } from './agent-session';
import { NodeRoutesCache } from './node-routes';
import { NodeStatusWriter } from './node-status-writer';
import { DEFAULT_PUSH_TIMING, SyncPusher, type PushTiming } from './sync-pusher';
import { UpstreamHealthRecorder } from './upstream-health';

export const AGENT_CONNECT_PATH = '/api/v1/agent/connect';

/** How long an agent closed for flooding is refused before it may connect again. */
const RATE_LIMIT_COOLDOWN_MS = 10_000;

export interface HubOptions {
  heartbeatSeconds: number;
  offlineAfterMissed: number;
  /** How changes that arrive while a sync is in flight are gathered (see SyncPusher). */
  pushTiming?: PushTiming;
}

function rejectUpgrade(socket: Duplex, status: number, code: string, message: string, retryAfterSeconds?: number): void {
  const body = JSON.stringify({ error: { code, message } });
  const retry = retryAfterSeconds ? `Retry-After: ${retryAfterSeconds}\r\n` : '';
  const texts: Record<number, string> = { 401: 'Unauthorized', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };
  const text = texts[status] ?? 'Bad Request';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`);
}

/**
 * Keeps one WebSocket per connected node and pushes each node the changes to its desired state (SyncPusher).
 * The desired state lives in the database; the hub only caches it, so nothing here is needed to recover after a
 * restart: a node that reconnects is compared by revision and gets a full sync if it is behind.
 */
export class AgentHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.agentFrameBytes });
  /** Nodes closed for sending too many frames, and until when their reconnects are refused. */
  private readonly cooldown = new Map<string, number>();
  readonly sessions = new Map<string, AgentSession>();
  private readonly routeErrorsSeen = new Map<string, string>();
  private readonly writer: NodeStatusWriter;
  private readonly upstreamHealth: UpstreamHealthRecorder;
  private readonly localRoutes: LocalRouteService;
  readonly dockerRoutes: DockerRouteService;
  private checkingStale: Promise<void> | null = null;
  private readonly liveness: NodeJS.Timeout;
  private readonly pusher: SyncPusher;

  constructor(
    private readonly s: Services,
    private readonly log: Logger,
    private readonly opts: HubOptions,
  ) {
    this.writer = new NodeStatusWriter(s.ctx, log);
    this.upstreamHealth = new UpstreamHealthRecorder(s.ctx, this.writer);
    this.localRoutes = new LocalRouteService(s.ctx);
    this.dockerRoutes = new DockerRouteService(s.ctx, log, { staleAfterMs: opts.heartbeatSeconds * opts.offlineAfterMissed * 1000 });
    this.pusher = new SyncPusher(new NodeRoutesCache(s.ctx), this.sessions, log, opts.pushTiming ?? DEFAULT_PUSH_TIMING);
    s.ctx.events.on('revision', (nodeId, revision) => this.pusher.changed(nodeId, revision));
    // A central route added or removed there may take a domain from (or give it back to) a Docker route.
    s.ctx.events.on('revision', (nodeId) => this.dockerRoutes.schedule(nodeId));
    s.ctx.events.on('revoked', (nodeId) => {
      this.sessions.get(nodeId)?.close(CLOSE_CODES.revoked, 'agent key revoked by the controller');
      this.pusher.forget(nodeId);
    });
    // A deleted node's Docker sites are gone (and the routes other nodes served for it).
    s.ctx.events.on('revoked', () => void this.dockerRoutes.recomputeAll());
    this.liveness = setInterval(() => {
      this.checkLiveness();
      this.pusher.repair();
    }, Math.min(1000, opts.heartbeatSeconds * 500));
    this.liveness.unref();
    s.ctx.health.onRecovered(() => void this.writer.flush());
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.onUpgrade(req, socket, head);
    });
  }

  /** Marks every node that was left online by a previous run offline; they come back when they reconnect. */
  async resetStatuses(): Promise<void> {
    await this.s.ctx.db.updateTable('nodes').set({ status: 'offline' }).where('status', 'in', ['online', 'error']).execute();
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_CONNECT_PATH) return rejectUpgrade(socket, 404, 'not_found', 'no WebSocket endpoint here');
    const m = /^Bearer\s+(\S{1,200})$/i.exec(req.headers.authorization ?? '');
    if (!m) return rejectUpgrade(socket, 401, 'agent_key_invalid', 'an agent key is required (Authorization: Bearer …)');
    let node;
    try {
      node = await this.s.enrollment.nodeForAgentKeyFrom(req.socket.remoteAddress ?? 'unknown', m[1]!);
    } catch (err) {
      if (err instanceof AppError) return rejectUpgrade(socket, err.status, err.code, err.message, err instanceof RateLimitedError ? err.retryAfterSeconds : undefined);
      if (isDatabaseUnavailable(err)) {
        this.s.ctx.health.observe(err);
        return rejectUpgrade(socket, 503, 'database_unavailable', "the controller's database is unavailable; try again later");
      }
      this.log.error({ err }, 'agent authentication failed');
      return rejectUpgrade(socket, 400, 'internal', 'authentication failed');
    }
    const until = this.cooldown.get(node.id) ?? 0;
    if (until > Date.now()) {
      const wait = Math.ceil((until - Date.now()) / 1000);
      return rejectUpgrade(socket, 429, 'rate_limited', `this node sent too many frames; reconnect in ${wait} s`, wait);
    }
    this.cooldown.delete(node.id);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(node.id, node.name, node.agent_key_hash!, ws));
  }

  private onConnection(nodeId: string, nodeName: string, keyHash: string, ws: WebSocket): void {
    const previous = this.sessions.get(nodeId);
    if (previous) {
      previous.close(CLOSE_CODES.replaced, 'replaced by a newer connection of the same node');
      // The replaced connection's own close finds the new one in its place; the node is online again only if the
      // new one gets through hello.
      if (previous.helloReceived) this.writer.update(nodeId, { status: 'offline' }, true);
    }
    const session = new AgentSession(nodeId, nodeName, ws, this.log, this.handlers(nodeId, nodeName, keyHash));
    this.sessions.set(nodeId, session);
    ws.on('close', () => {
      if (this.sessions.get(nodeId) !== session) return;
      this.forget(session);
      // A connection refused at hello never made its node online: a pending node stays pending.
      if (session.helloReceived) this.writer.update(nodeId, { status: 'offline' }, true);
      this.log.info({ node: nodeId }, 'agent disconnected');
    });
    ws.on('error', (err) => this.log.warn({ err, node: nodeId }, 'agent socket error'));
  }

  private handlers(nodeId: string, nodeName: string, keyHash: string): AgentHandlers {
    const session = () => this.sessions.get(nodeId);
    return {
      hello: async (f) => {
        const s = session();
        if (!s) return;
        // A revocation that committed while this connection was being upgraded found no session to close.
        const stillValid = await this.s.ctx.db
          .selectFrom('nodes')
          .select(['id', 'caddy_modules'])
          .where('id', '=', nodeId)
          .where('agent_key_hash', '=', keyHash)
          .executeTakeFirst();
        if (!stillValid) return s.close(CLOSE_CODES.revoked, 'agent key revoked by the controller');
        s.appliedRevision = f.appliedRevision;
        const now = new Date().toISOString();
        // Absent means the agent cannot tell (an existing Caddy): unknown again, never a stale list. An older
        // agent's `capabilities.layer4` is not kept: without the full list it cannot say what else is missing.
        const modules = f.caddyModules ? JSON.stringify([...new Set(f.caddyModules)].sort()) : null;
        this.writer.update(
          nodeId,
          {
            status: 'online',
            caddy_version: f.caddyVersion,
            agent_version: f.agentVersion,
            last_seen_at: now,
            applied_revision: f.appliedRevision,
            caddy_modules: modules,
            http_port: f.listeners?.http ?? null,
            https_port: f.listeners?.https ?? null,
          },
          true,
        );
        void this.writer.flush().then(() => this.s.ctx.events.emit('connected', nodeId));
        if (modules !== stillValid.caddy_modules && (await refreshModuleNotes(this.s.ctx.db, { id: nodeId, name: nodeName }, stillValid.caddy_modules, modules))) {
          this.s.ctx.events.emit('routes', nodeId);
        }
        s.send({ type: 'welcome', protocolVersion: s.protocolVersion, nodeId, heartbeatSeconds: this.opts.heartbeatSeconds });
        this.log.info({ node: nodeId, agent: f.agentVersion, protocol: f.protocolVersion, caddy: f.caddyVersion, applied: f.appliedRevision }, 'agent connected');
        await this.pusher.connected(s, f.appliedRevision);
      },
      ack: async (f) => {
        const s = session();
        if (!s) return;
        if (f.ok) {
          s.appliedRevision = f.revision;
          this.writer.update(nodeId, { applied_revision: f.revision, status: 'online', last_error: null, last_seen_at: new Date().toISOString() }, true);
          this.pusher.acked(s, f.revision);
          await this.recordRouteErrors(nodeId, f.routeErrors);
        } else {
          this.log.warn({ node: nodeId, revision: f.revision, error: f.error }, 'agent failed to apply');
          this.writer.update(nodeId, { status: 'error', last_error: f.error ?? 'apply failed', last_seen_at: new Date().toISOString() }, true);
          this.pusher.acked(s, f.revision);
        }
      },
      resync: async (f) => {
        const s = session();
        if (!s) return;
        this.log.warn({ node: nodeId, revision: f.revision }, 'agent asked for a full sync');
        this.pusher.resync(s);
      },
      status: async (f) => {
        this.writer.update(nodeId, {
          last_seen_at: new Date().toISOString(),
          route_count: f.routeCount,
          cert_count: f.certCount,
          caddy_version: f.caddyVersion,
        });
        if (f.drift) this.log.warn({ node: nodeId }, 'agent repaired configuration drift in its Caddy');
      },
      'local-routes': async (f) => {
        const { conflicts } = await this.localRoutes.replace(nodeId, `agent ${nodeName}`, f.routes);
        if (conflicts) this.log.warn({ node: nodeId, conflicts }, 'local routes conflict with central routes');
        this.dockerRoutes.schedule(nodeId);
      },
      'docker-routes': async (f) => {
        await this.dockerRoutes.replace(nodeId, `agent ${nodeName}`, f.routes);
      },
      certificates: async (f) => {
        const sorted = [...f.certificates].sort((a, b) => (a.notAfter < b.notAfter ? -1 : a.notAfter > b.notAfter ? 1 : 0));
        this.writer.update(nodeId, { certificates: JSON.stringify(sorted), certificates_at: new Date().toISOString(), cert_count: sorted.length });
      },
      'upstream-health': async (f) => this.upstreamHealth.record(nodeId, f.upstreams),
      ping: async (f) => session()?.send({ type: 'pong', t: f.t }),
      pong: async () => {},
      rateLimited: () => {
        this.log.warn({ node: nodeId }, 'agent exceeded its frame rate; closing it and refusing reconnects for a while');
        this.cooldown.set(nodeId, Date.now() + RATE_LIMIT_COOLDOWN_MS);
      },
      failed: (err, frame) => {
        if (!isDatabaseUnavailable(err)) return this.log.error({ err, node: nodeId, frame }, 'agent frame handler failed');
        // What this frame carried is lost; reconnecting makes the agent say hello and publish everything again.
        this.s.ctx.health.observe(err);
        this.log.warn({ node: nodeId, frame }, 'database unavailable while handling an agent frame; asking the agent to reconnect');
        session()?.close(CLOSE_CODES.tryAgainLater, "the controller's database is unavailable; reconnect later");
      },
    };
  }

  /** Per-route problems (unsupported on this node, local conflicts) are written only when they change. */
  private async recordRouteErrors(nodeId: string, errors: { routeId: string; error: string }[]): Promise<void> {
    const key = JSON.stringify(errors);
    if (this.routeErrorsSeen.get(nodeId) === key) return;
    await this.s.ctx.db.transaction().execute(async (trx) => {
      // A disabled route is not served, so the agent's report says nothing about it (it may carry the controller's own note).
      await trx.updateTable('routes').set({ last_error: null }).where('node_id', '=', nodeId).where('scope', '=', 'exclusive').where('enabled', '=', 1).where('last_error', 'is not', null).execute();
      for (const e of errors) {
        await trx.updateTable('routes').set({ last_error: e.error }).where('node_id', '=', nodeId).where('scope', '=', 'exclusive').where('id', '=', e.routeId).execute();
      }
    });
    this.routeErrorsSeen.set(nodeId, key);
    this.s.ctx.events.emit('routes', nodeId);
  }

  /** Drops what the hub remembers about a node's session, so a long-running controller does not accumulate it. */
  private forget(session: AgentSession): void {
    this.sessions.delete(session.nodeId);
    this.routeErrorsSeen.delete(session.nodeId);
    this.upstreamHealth.forget(session.nodeId);
    this.pusher.disconnected(session);
  }

  private checkLiveness(): void {
    this.checkingStale ??= this.dockerRoutes
      .checkStale()
      .catch((err: unknown) => this.log.error({ err }, 'could not check Docker routes for staleness'))
      .finally(() => (this.checkingStale = null));
    const limit = this.opts.heartbeatSeconds * this.opts.offlineAfterMissed * 1000;
    const now = Date.now();
    for (const [nodeId, s] of this.sessions) {
      if (now - s.lastFrameAt <= limit) continue;
      this.log.warn({ node: nodeId }, 'agent missed its heartbeats; marking offline');
      this.forget(s);
      s.terminate();
      if (s.helloReceived) this.writer.update(nodeId, { status: 'offline' }, true);
    }
  }

  /** Syncs pushed to agents (full states and deltas). */
  get syncsSent(): number {
    return this.pusher.syncsSent;
  }

  metrics(): string[] {
    return [
      '# HELP caddyfleet_agents_connected Agents with a live, welcomed WebSocket.',
      '# TYPE caddyfleet_agents_connected gauge',
      `caddyfleet_agents_connected ${[...this.sessions.values()].filter((s) => s.ready).length}`,
      '# HELP caddyfleet_syncs_sent_total Syncs pushed to agents (full states and deltas).',
      '# TYPE caddyfleet_syncs_sent_total counter',
      `caddyfleet_syncs_sent_total ${this.syncsSent}`,
      '# HELP caddyfleet_deltas_sent_total Syncs pushed as deltas.',
      '# TYPE caddyfleet_deltas_sent_total counter',
      `caddyfleet_deltas_sent_total ${this.pusher.deltasSent}`,
      '# HELP caddyfleet_node_status_flushes_total Batched writes of node status rows.',
      '# TYPE caddyfleet_node_status_flushes_total counter',
      `caddyfleet_node_status_flushes_total ${this.writer.flushCount}`,
    ];
  }

  async close(): Promise<void> {
    clearInterval(this.liveness);
    for (const [nodeId, s] of this.sessions) {
      this.pusher.disconnected(s);
      s.terminate();
      this.writer.update(nodeId, { status: 'offline' });
    }
    this.sessions.clear();
    this.wss.close();
    await this.checkingStale;
    await this.dockerRoutes.close();
    await this.writer.close();
  }
}
