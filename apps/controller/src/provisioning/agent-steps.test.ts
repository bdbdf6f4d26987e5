import { describe, expect, it } from 'vitest';
import { REQUIRED_HARDENING, hardeningProblems, parseShow } from './agent-steps';

describe('unit hardening check', () => {
  it('accepts a unit with every required property and names what differs', () => {
    const lines = Object.entries(REQUIRED_HARDENING).map(([k, v]) => `${k}=${v}`);
    expect(hardeningProblems(parseShow(lines))).toEqual([]);
    const weak = parseShow([...lines.filter((l) => !l.startsWith('ProtectSystem=')), 'ProtectSystem=no']);
    expect(hardeningProblems(weak)).toEqual(['ProtectSystem=no (want strict)']);
    expect(hardeningProblems({})).toHaveLength(Object.keys(REQUIRED_HARDENING).length);
  });
});
