/** How one connection attempt ended, and what the controller said when it refused the WebSocket upgrade. */
import type { IncomingMessage } from 'node:http';

const MAX_ERROR_BODY = 64 * 1024;

export type Outcome =
  | { kind: 'closed'; code: number; reason: string; welcomed: boolean; upMs: number }
  | { kind: 'failed'; error: string }
  | { kind: 'revoked'; reason: string }
  | { kind: 'mismatch'; message: string };

/** A refused upgrade's status and error body: a revoked or unknown key ends the retries, anything else is retried. */
export function refusedUpgrade(status: number, body: string): Outcome {
  let code: string | null = null;
  let message = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not JSON: keep the text.
  }
  if (status === 401 && code === 'agent_key_revoked') {
    return { kind: 'revoked', reason: `agent key revoked by the controller; enroll again with a new token (${message})` };
  }
  if (status === 401 && code === 'agent_key_invalid') {
    return { kind: 'revoked', reason: `agent key rejected by the controller (${message}); enroll again with a new token` };
  }
  return { kind: 'failed', error: `the controller refused the connection: HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}` };
}

/** The body of a refused upgrade, bounded in size and time. */
export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(finish, 5000);
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_ERROR_BODY) chunks.push(c);
    });
    res.on('end', finish);
    res.on('error', finish);
    res.on('close', finish);
  });
}
