/** Reading /etc/os-release and deciding whether this host is one the provisioner supports. */

export interface HostFacts {
  os: Record<string, string>;
  /** `uname -m`. */
  arch: string;
  /** /run/systemd/system exists: systemd is PID 1. */
  systemd: boolean;
  apt: boolean;
}

/** Parses os-release (shell-style KEY=value lines, values optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

const SUPPORTED = ['debian', 'ubuntu'];

/** Null when supported, else why not (said before anything on the host is touched). */
export function unsupportedReason(facts: HostFacts): string | null {
  const id = (facts.os.ID ?? '').toLowerCase();
  const name = facts.os.PRETTY_NAME || facts.os.NAME || id || 'an unknown system';
  if (!SUPPORTED.includes(id)) {
    return `unsupported operating system: ${name} (ID=${id || 'missing'}). caddyfleet provisions Debian and Ubuntu hosts only; nothing was changed on the host.`;
  }
  if (facts.arch !== 'x86_64') {
    return `unsupported architecture ${facts.arch}: the agent is built for linux x86_64 only; nothing was changed on the host.`;
  }
  if (!facts.systemd) return `${name} is not running systemd: the agent runs as a systemd service; nothing was changed on the host.`;
  if (!facts.apt) return `${name} has no apt-get; nothing was changed on the host.`;
  return null;
}

/** What check-os prints on the host: os-release, then marker lines the parser below reads. */
export const FACTS_SCRIPT = `
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true
echo "@@ARCH=$(uname -m)"
if [ -d /run/systemd/system ]; then echo "@@SYSTEMD=yes"; else echo "@@SYSTEMD=no"; fi
if command -v apt-get >/dev/null 2>&1; then echo "@@APT=yes"; else echo "@@APT=no"; fi
`;

export function parseFacts(stdout: string[]): HostFacts {
  const marker = (k: string) => stdout.find((l) => l.startsWith(`@@${k}=`))?.slice(k.length + 3) ?? '';
  return {
    os: parseOsRelease(stdout.filter((l) => !l.startsWith('@@')).join('\n')),
    arch: marker('ARCH'),
    systemd: marker('SYSTEMD') === 'yes',
    apt: marker('APT') === 'yes',
  };
}
