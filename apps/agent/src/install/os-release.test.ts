import { describe, expect, it } from 'vitest';
import { osSupport, parseOsRelease } from './os-release';

const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

const UBUNTU = `NAME="Ubuntu"
VERSION="24.04 LTS (Noble Numbat)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 24.04 LTS"
`;

const MINT = `NAME="Linux Mint"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 21.3"
`;

const FEDORA = `NAME="Fedora Linux"
ID=fedora
PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"
`;

describe('parseOsRelease', () => {
  it('reads bare, double- and single-quoted values and skips comments and junk', () => {
    const os = parseOsRelease(`# comment\nID=debian\nNAME="Debian \\"GNU\\"/Linux"\nVARIANT='Server edition'\nnot a line\n  \n`);
    expect(os).toEqual({ ID: 'debian', NAME: 'Debian "GNU"/Linux', VARIANT: 'Server edition' });
  });
});

describe('osSupport', () => {
  it('accepts Debian, Ubuntu and systems like them', () => {
    expect(osSupport(parseOsRelease(DEBIAN_12))).toEqual({ supported: true, name: 'Debian GNU/Linux 12 (bookworm)' });
    expect(osSupport(parseOsRelease(UBUNTU))).toEqual({ supported: true, name: 'Ubuntu 24.04 LTS' });
    expect(osSupport(parseOsRelease(MINT)).supported).toBe(true);
  });

  it('refuses others and names them', () => {
    expect(osSupport(parseOsRelease(FEDORA))).toEqual({ supported: false, name: 'Fedora Linux 40 (Workstation Edition)' });
    expect(osSupport(parseOsRelease(''))).toEqual({ supported: false, name: 'an unknown system' });
  });
});
