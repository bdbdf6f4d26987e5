/**
 * A simulated agent: protocol only, no Caddy. It speaks the real frames (validated by the controller's zod
 * schemas): `hello` on connect; after `welcome` a `status` and an empty `local-routes` like the real agent, then
 * `status` + `ping` every heartbeat; every `sync` is acknowledged at once with `ack`.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type AgentFrame, type ControllerFrame } from '@caddyfleet/protocol';

export interface SimCounters {
  framesSent: number;
  statusSent: number;
  pingsSent: number;
  pongs: number;
  syncs: number;
  acks: number;
}

export class SimAgent {
  ws: WebSocket | null = null;
  welcomed = false;
  appliedRevision = 0;
  /** performance.now() of the last sync received. */
  lastSyncAt = 0;
  /** Close code when the connection ended without us closing it (after the run: unexpected disconnects). */
  closedWith: number | null = null;
  private closing = false;
  readonly counters: SimCounters = { framesSent: 0, statusSent: 0, pingsSent: 0, pongs: 0, syncs: 0, acks: 0 };
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    readonly nodeId: string,
    private readonly agentKey: string,
  ) {}

  /** Sends any frame as is (a hostile or a very large one, for the agent-load scenario). */
  send(frame: AgentFrame): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(frame));
    this.counters.framesSent++;
  }

  private status(): void {
    this.send({ type: 'status', routeCount: this.appliedRevision > 0 ? 1 : 0, certCount: 0, caddyVersion: null, appliedRevision: this.appliedRevision, drift: false });
    this.counters.statusSent++;
  }

  /** Connects and resolves at `welcome`; rejects on close, error or after `timeoutMs`. */
  connect(url: string, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${this.agentKey}` }, handshakeTimeout: timeoutMs, followRedirects: false });
      this.ws = ws;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`node ${this.nodeId}: no welcome within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.on('open', () =>
        this.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: 'bench-sim', caddyVersion: null, appliedRevision: this.appliedRevision }),
      );
      ws.on('message', (data) => {
        let f: ControllerFrame;
        try {
          f = JSON.parse(String(data)) as ControllerFrame;
        } catch {
          return;
        }
        switch (f.type) {
          case 'welcome':
            this.welcomed = true;
            clearTimeout(timer);
            this.status();
            this.send({ type: 'local-routes', routes: [] });
            this.heartbeat = setInterval(() => {
              this.status();
              this.send({ type: 'ping', t: Date.now() });
              this.counters.pingsSent++;
            }, f.heartbeatSeconds * 1000);
            resolve();
            break;
          case 'sync':
          case 'delta':
            this.counters.syncs++;
            this.lastSyncAt = performance.now();
            this.appliedRevision = f.revision;
            this.send({ type: 'ack', revision: f.revision, ok: true, routeErrors: [] });
            this.counters.acks++;
            break;
          case 'pong':
            this.counters.pongs++;
            break;
          case 'ping':
            this.send({ type: 'pong', t: f.t });
            break;
        }
      });
      ws.on('error', () => {});
      ws.on('close', (code) => {
        if (!this.closing) this.closedWith = code;
        this.welcomed = false;
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = null;
        clearTimeout(timer);
        reject(new Error(`node ${this.nodeId}: closed (${code}) before welcome`));
      });
    });
  }

  close(): void {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.ws?.terminate();
  }
}
