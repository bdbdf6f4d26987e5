import { describe, expect, it } from 'vitest';
import { cidrWithHostBits, hostBitRangeProblems } from './cidr';

describe('CIDR ranges with host bits', () => {
  it('names the network a range with host bits stands for', () => {
    expect(cidrWithHostBits('192.168.1.10/24')).toBe('192.168.1.0/24');
    expect(cidrWithHostBits('10.0.0.66/8')).toBe('10.0.0.0/8');
    expect(cidrWithHostBits('2001:db8::1/32')).toBe('2001:db8::/32');
    expect(cidrWithHostBits('2001:db8:0:1:2::/64')).toBe('2001:db8:0:1::/64');
    expect(cidrWithHostBits('::ffff:10.0.0.1/96')).toBe('::ffff:0:0/96');
    expect(cidrWithHostBits('1:2:3:4:5:6:7:8/112')).toBe('1:2:3:4:5:6:7:0/112');
  });

  it('leaves networks, single addresses and full-length prefixes alone', () => {
    for (const ok of ['10.0.0.0/8', '192.168.1.10/32', '0.0.0.0/0', '192.168.1.10', '2001:db8:0:1::/64', 'fe80::1/128', '::/0', '::1']) {
      expect(cidrWithHostBits(ok), ok).toBeNull();
    }
  });

  it('reports new ranges by field, and lets a range the route already had through', () => {
    const options = { access: { allow: ['10.0.0.0/8', '192.168.1.10/24'], deny: ['10.0.0.66/8'] } };
    expect(hostBitRangeProblems(options)).toEqual([
      { path: ['access', 'allow', 1], message: 'has bits set after its prefix: write 192.168.1.0/24 for the range, or the address alone for one host' },
      { path: ['access', 'deny', 0], message: 'has bits set after its prefix: write 10.0.0.0/8 for the range, or the address alone for one host' },
    ]);
    expect(hostBitRangeProblems(options, { access: { allow: ['192.168.1.10/24'], deny: ['10.0.0.66/8'] } })).toEqual([]);
    // Kept on its own list only: moved from allow to deny it is a new entry.
    expect(hostBitRangeProblems({ access: { deny: ['192.168.1.10/24'] } }, { access: { allow: ['192.168.1.10/24'] } })).toHaveLength(1);
    expect(hostBitRangeProblems(null)).toEqual([]);
  });
});
