import { describe, expect, it } from 'vitest';
import { digestsEqual, hashPassword, randomSecret, sha256, verifyPassword } from './crypto';

describe('crypto', () => {
  it('random secrets carry 256 bits and a prefix', () => {
    const a = randomSecret('cft');
    expect(a).toMatch(/^cft_[A-Za-z0-9_-]{43}$/);
    expect(randomSecret('cft')).not.toBe(a);
  });
  it('compares digests in constant time and refuses different lengths', () => {
    expect(digestsEqual(sha256('a'), sha256('a'))).toBe(true);
    expect(digestsEqual(sha256('a'), sha256('b'))).toBe(false);
    expect(digestsEqual(sha256('a'), sha256('a').slice(0, 32))).toBe(false);
    expect(digestsEqual('', '')).toBe(false);
  });
  it('hashes passwords with scrypt and a random salt', async () => {
    const h1 = await hashPassword('correct horse');
    const h2 = await hashPassword('correct horse');
    expect(h1).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(h1).not.toBe(h2);
    expect(await verifyPassword('correct horse', h1)).toBe(true);
    expect(await verifyPassword('wrong horse', h1)).toBe(false);
    expect(await verifyPassword('x', 'md5$abc')).toBe(false);
  });
});
