import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../errors';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function refuse(why: string): ForbiddenError {
  return new ForbiddenError('csrf_rejected', `cross-site request refused: ${why}`);
}

/** The origin this request was sent to, as a browser would write it in `Origin`. */
function ownOrigin(req: FastifyRequest): string | null {
  try {
    return new URL(`${req.protocol}://${req.host}`).origin;
  } catch {
    return null;
  }
}

/**
 * Guards requests that a session cookie authenticates. SameSite=Strict does not separate another port or a
 * sibling subdomain of the same site, so an unsafe request must come from the dashboard's own origin:
 * `Sec-Fetch-Site` (when the browser sends it) must be `same-origin` and `Origin` (when present) must be ours.
 * A POST without a JSON body must carry `X-Requested-With`, which no page can add to a cross-origin request
 * without a CORS preflight (that the controller never grants). Bearer tokens are not sent by browsers on
 * their own, so requests using them are exempt.
 */
export function assertSameOrigin(req: FastifyRequest): void {
  if (!UNSAFE.has(req.method)) return;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw refuse(`Sec-Fetch-Site is ${String(site)}`);
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let given: string | null = null;
    try {
      given = new URL(origin).origin;
    } catch {
      // "null" (sandboxed frames, file pages) and garbage: not our origin.
    }
    if (!given || given !== ownOrigin(req)) throw refuse(`Origin ${origin} is not this controller`);
  }
  if (req.method === 'POST') {
    const json = /^application\/json\b/i.test(req.headers['content-type'] ?? '');
    if (!json && req.headers['x-requested-with'] === undefined) throw refuse('a POST without a JSON body needs an X-Requested-With header');
  }
}
