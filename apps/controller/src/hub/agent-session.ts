import type { Logger } from 'pino';
import type { WebSocket, RawData } from 'ws';
import {
  CLOSE_CODES,
  OLDEST_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  closeReason,
  agentFrameSchema,
  type AgentFrame,
  type AgentFrameType,
  type ControllerFrame,
} from '@caddyfleet/protocol';

type Handler<T extends AgentFrameType> = (frame: Extract<AgentFrame, { type: T }>) => Promise<void>;
export type AgentHandlers = { [T in AgentFrameType]: Handler<T> };

/**
 * One agent connection. Frames are parsed on arrival and handled strictly in order; anything before `hello`,
 * anything that is not a valid frame, and a second `hello` close the socket and change nothing.
 */
export class AgentSession {
  private helloDone = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  lastFrameAt = Date.now();
  appliedRevision = 0;
  /** The protocol version this agent speaks (from its hello); older agents get only what they understand. */
  protocolVersion = PROTOCOL_VERSION;

  constructor(
    readonly nodeId: string,
    readonly nodeName: string,
    private readonly ws: WebSocket,
    private readonly log: Logger,
    private readonly handlers: AgentHandlers,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get ready(): boolean {
    return this.helloDone && !this.closed;
  }

  send(frame: ControllerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** A frame already serialised (sync and delta frames are assembled from each route's cached JSON). */
  sendText(text: string): void {
    if (this.closed) return;
    this.ws.send(text);
  }

  close(code: number, why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log.warn({ node: this.nodeId, code, reason: why }, 'closing agent connection');
    try {
      this.ws.close(code, closeReason(why));
    } catch {
      this.ws.terminate();
    }
    // A peer that does not complete the closing handshake is cut off, so revocation takes effect within a second.
    setTimeout(() => this.ws.terminate(), 500).unref();
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    this.lastFrameAt = Date.now();
    if (isBinary) return this.close(CLOSE_CODES.badFrame, 'binary frames are not accepted');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return this.close(CLOSE_CODES.badFrame, 'frame is not JSON');
    }
    const parsed = agentFrameSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.close(CLOSE_CODES.badFrame, `invalid frame: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'unknown'}`);
    }
    const frame = parsed.data;
    if (!this.helloDone && frame.type !== 'hello') return this.close(CLOSE_CODES.badFrame, `expected hello first, got ${frame.type}`);
    if (this.helloDone && frame.type === 'hello') return this.close(CLOSE_CODES.badFrame, 'hello was already received');
    if (frame.type === 'hello') {
      if (frame.protocolVersion < OLDEST_PROTOCOL_VERSION || frame.protocolVersion > PROTOCOL_VERSION) {
        this.log.warn({ node: this.nodeId, agent: frame.protocolVersion, controller: PROTOCOL_VERSION }, 'protocol version mismatch');
        return this.close(
          CLOSE_CODES.protocolMismatch,
          `protocol version ${frame.protocolVersion} not supported; controller speaks ${OLDEST_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`,
        );
      }
      this.protocolVersion = frame.protocolVersion;
      this.helloDone = true;
    }
    this.queue = this.queue
      .then(() => (this.handlers[frame.type] as Handler<typeof frame.type>)(frame as never))
      .catch((err: unknown) => {
        this.log.error({ err, node: this.nodeId, frame: frame.type }, 'agent frame handler failed');
      });
  }
}
