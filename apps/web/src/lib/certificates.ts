/** How a certificate's expiry is shown: soonest first, and flagged when renewal is due or overdue. */
import type { z } from 'zod';
import type { nodeCertificateSchema } from '@caddyfleet/protocol';

export type NodeCertificate = z.infer<typeof nodeCertificateSchema>;

const DAY = 24 * 3600 * 1000;

export type ExpiryState = 'expired' | 'expiring' | 'ok';

/**
 * Caddy renews a certificate when a third of its lifetime is left (30 days of a 90-day ACME certificate, 4 hours
 * of a 12-hour internal one), so one still older than that has missed its renewal so far: worth a look.
 */
export function expiryState(cert: { notBefore: string; notAfter: string }, now: number): ExpiryState {
  const end = Date.parse(cert.notAfter);
  const left = end - now;
  if (left <= 0) return 'expired';
  const lifetime = end - Date.parse(cert.notBefore);
  return left < lifetime / 3 ? 'expiring' : 'ok';
}

/** "in 3 days", "in 11 h", "expired 2 days ago". */
export function expiresIn(notAfter: string, now: number): string {
  const left = Date.parse(notAfter) - now;
  if (Number.isNaN(left)) return 'unknown';
  const abs = Math.abs(left);
  const text = abs >= 2 * DAY ? `${Math.floor(abs / DAY)} days` : `${Math.max(1, Math.floor(abs / 3600_000))} h`;
  return left > 0 ? `in ${text}` : `expired ${text} ago`;
}

export function soonestFirst(certs: NodeCertificate[]): NodeCertificate[] {
  return [...certs].sort((a, b) => (a.notAfter < b.notAfter ? -1 : a.notAfter > b.notAfter ? 1 : 0));
}
