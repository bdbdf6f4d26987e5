import { describe, expect, it } from 'vitest';
import { hostKeySha256Schema, provisionRequestSchema, reprovisionRequestSchema } from './provisioning';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n';
const FP = 'SHA256:vBdUqEWSPvRdxj6HaBLUreA9dEdc2DEqjT9BLSgZI/A';

describe('provisioning bodies', () => {
  it('accepts a password or a key (with an optional passphrase) and defaults the port', () => {
    const ok = provisionRequestSchema.parse({ name: ' edge ', siteId: 'site_1', ssh: { host: '10.200.40.2', user: 'root', password: 'pw' } });
    expect(ok).toMatchObject({ name: 'edge', ssh: { port: 22 } });
    expect(reprovisionRequestSchema.parse({ ssh: { host: 'Edge.Example.com', port: 2222, user: 'ops', privateKey: KEY, passphrase: 'x' }, hostKeySha256: FP }).ssh.host).toBe('edge.example.com');
  });

  it('refuses bodies without a credential, with a stray passphrase, or with bad fields', () => {
    const bad = [
      { ssh: { host: 'h', user: 'root' } },
      { ssh: { host: 'h', user: 'root', password: 'pw', passphrase: 'p' } },
      { ssh: { host: 'h', user: 'root', privateKey: 'not a key' } },
      { ssh: { host: 'h', user: 'root;rm', password: 'pw' } },
      { ssh: { host: 'h_x!', user: 'root', password: 'pw' } },
      { ssh: { host: 'h', user: 'root', password: 'pw', port: 70000 } },
      { ssh: { host: 'h', user: 'root', password: 'pw', extra: 1 } },
      { ssh: { host: 'h', user: 'root', password: 'x'.repeat(2000) } },
      { ssh: { host: 'h', user: 'root', privateKey: KEY + 'x'.repeat(20_000) } },
      { ssh: { host: 'h', user: 'root', password: 'pw' }, hostKeySha256: 'MD5:aa' },
    ];
    for (const body of bad) expect(reprovisionRequestSchema.safeParse(body).success, JSON.stringify(body).slice(0, 80)).toBe(false);
  });

  it('takes host keys as ssh-keygen prints them', () => {
    expect(hostKeySha256Schema.parse(` ${FP} `)).toBe(FP);
    expect(hostKeySha256Schema.safeParse(FP.slice(0, -1)).success).toBe(false);
  });
});
