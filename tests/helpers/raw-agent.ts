/**
 * A protocol-level agent peer for controller tests: a real WebSocket to the controller's agent endpoint that
 * sends the frames a test gives it and records every frame and the close.
 */
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@caddyfleet/protocol';

/** Without `caddyModules` it is the hello of an agent in front of an existing Caddy (modules unknown). */
export const helloFrame = (appliedRevision = 0, caddyModules?: string[]) => ({
  type: 'hello',
  protocolVersion: PROTOCOL_VERSION,
  agentVersion: 'test',
  caddyVersion: 'v2.6.2',
  appliedRevision,
  ...(caddyModules ? { caddyModules } : {}),
});

export interface RawPeer {
  ws: WebSocket;
  frames: any[];
  closed: Promise<{ code: number; reason: string }>;
  /** Set when the upgrade was refused: the HTTP status and the JSON body. */
  rejected?: { status: number; body: any };
  send(frame: unknown): void;
}

/** Connects with `key` (or none) to `wsUrl` (ws://host:port/api/v1/agent/connect). */
export function connectPeer(wsUrl: string, key: string | null): Promise<RawPeer> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const frames: any[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    const send = (frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    ws.on('open', () => resolve({ ws, frames, closed, send }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let parsed: unknown = body;
        try {
          parsed = JSON.parse(body);
        } catch {
          /* keep the text */
        }
        resolve({ ws, frames, closed, send, rejected: { status: res.statusCode ?? 0, body: parsed } });
      });
    });
    ws.on('error', () => {});
  });
}
