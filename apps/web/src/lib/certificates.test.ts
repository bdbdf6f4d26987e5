import { describe, it, expect } from 'vitest';
import { expiresIn, expiryState, soonestFirst } from './certificates';

const now = Date.parse('2026-12-01T00:00:00.000Z');

describe('certificate expiry', () => {
  it('flags expired certificates, and those past the point where Caddy renews (a third of the lifetime left)', () => {
    const cert = (notBefore: string, notAfter: string) => ({ notBefore, notAfter });
    expect(expiryState(cert('2026-09-01T00:00:00.000Z', '2026-11-30T00:00:00.000Z'), now)).toBe('expired');
    // 90 days, 9 left: renewal (at 30 left) is overdue.
    expect(expiryState(cert('2026-09-10T00:00:00.000Z', '2026-12-10T00:00:00.000Z'), now)).toBe('expiring');
    // 90 days, 62 left.
    expect(expiryState(cert('2026-11-03T00:00:00.000Z', '2027-02-01T00:00:00.000Z'), now)).toBe('ok');
    // A 12-hour internal certificate issued an hour ago is fine; with 3 hours left it is not.
    expect(expiryState(cert('2026-11-30T23:00:00.000Z', '2026-12-01T11:00:00.000Z'), now)).toBe('ok');
    expect(expiryState(cert('2026-11-30T15:00:00.000Z', '2026-12-01T03:00:00.000Z'), now)).toBe('expiring');
  });

  it('says how long is left, in hours under two days', () => {
    expect(expiresIn('2026-12-01T12:30:00.000Z', now)).toBe('in 12 h');
    expect(expiresIn('2026-12-31T00:00:00.000Z', now)).toBe('in 30 days');
    expect(expiresIn('2026-11-28T00:00:00.000Z', now)).toBe('expired 3 days ago');
  });

  it('sorts soonest expiry first without touching the input', () => {
    const certs = ['2027-01-01', '2026-12-05', '2026-12-20'].map((d) => ({ subjects: [d], issuer: 'x', notBefore: '2026-01-01', notAfter: `${d}T00:00:00.000Z`, kind: 'managed' as const }));
    expect(soonestFirst(certs).map((c) => c.subjects[0])).toEqual(['2026-12-05', '2026-12-20', '2027-01-01']);
    expect(certs[0]!.subjects[0]).toBe('2027-01-01');
  });
});
