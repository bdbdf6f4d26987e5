import { describe, it, expect } from 'vitest';
import { expiresIn, expiryState, soonestFirst } from './certificates';

const now = Date.parse('2026-12-01T00:00:00.000Z');

describe('certificate expiry', () => {
  it('flags expired and soon-expiring certificates', () => {
    expect(expiryState('2026-11-30T00:00:00.000Z', now)).toBe('expired');
    expect(expiryState('2026-12-10T00:00:00.000Z', now)).toBe('expiring');
    expect(expiryState('2027-02-01T00:00:00.000Z', now)).toBe('ok');
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
