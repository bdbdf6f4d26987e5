import { describe, expect, it } from 'vitest';
import { parseFacts, parseOsRelease, unsupportedReason } from './os-release';

const BOOKWORM = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"`;

describe('os-release', () => {
  it('parses quoted and bare values', () => {
    expect(parseOsRelease(BOOKWORM)).toMatchObject({ ID: 'debian', VERSION_ID: '12', PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)' });
    expect(parseOsRelease("ID='ubuntu'\n# comment\nNAME=\"A \\\"B\\\"\"")).toEqual({ ID: 'ubuntu', NAME: 'A "B"' });
  });

  it('supports Debian and Ubuntu on x86_64 with systemd and apt only', () => {
    const base = { arch: 'x86_64', systemd: true, apt: true };
    expect(unsupportedReason({ ...base, os: parseOsRelease(BOOKWORM) })).toBeNull();
    expect(unsupportedReason({ ...base, os: { ID: 'ubuntu', PRETTY_NAME: 'Ubuntu 24.04 LTS' } })).toBeNull();
    expect(unsupportedReason({ ...base, os: { ID: 'alpine', PRETTY_NAME: 'Alpine Linux v3.20' } })).toMatch(/unsupported operating system: Alpine Linux v3\.20 \(ID=alpine\).*nothing was changed/);
    expect(unsupportedReason({ ...base, os: {} })).toMatch(/ID=missing/);
    expect(unsupportedReason({ ...base, arch: 'aarch64', os: { ID: 'debian' } })).toMatch(/architecture aarch64/);
    expect(unsupportedReason({ ...base, systemd: false, os: { ID: 'debian' } })).toMatch(/not running systemd/);
  });

  it('reads the facts script output', () => {
    const facts = parseFacts([...BOOKWORM.split('\n'), '@@ARCH=x86_64', '@@SYSTEMD=yes', '@@APT=no']);
    expect(facts).toMatchObject({ arch: 'x86_64', systemd: true, apt: false });
    expect(facts.os.ID).toBe('debian');
  });
});
