/**
 * /etc/os-release (os-release(5)): shell-like KEY=value lines. The installer only supports what it can install
 * Caddy on with apt (Debian, Ubuntu and their derivatives), and says which system it found otherwise.
 */

export type OsRelease = Record<string, string>;

/** Parses os-release text; values may be bare, "double" or 'single' quoted, with \-escapes in double quotes. */
export function parseOsRelease(text: string): OsRelease {
  const out: OsRelease = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]!] = unquote(m[2]!);
  }
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  return v;
}

export interface OsSupport {
  supported: boolean;
  /** PRETTY_NAME, else NAME/ID, for messages. */
  name: string;
}

/** Debian, Ubuntu, or a system that declares itself like one of them (ID_LIKE). */
export function osSupport(os: OsRelease): OsSupport {
  const ids = [os.ID ?? '', ...(os.ID_LIKE ?? '').split(/\s+/)].map((s) => s.toLowerCase()).filter(Boolean);
  const name = os.PRETTY_NAME || os.NAME || os.ID || 'an unknown system';
  return { supported: ids.includes('debian') || ids.includes('ubuntu'), name };
}
