/**
 * The certificates Caddy keeps in its storage (`<storage>/certificates/<issuer>/<name>/<name>.crt`): the leaf of
 * each chain, with its names, issuer and validity. Issuer directory `local` is Caddy's internal CA; every other
 * one is an ACME CA (a certificate Caddy manages publicly).
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { MAX_REPORTED_CERTIFICATES, type AgentFrame, type Certificate } from '@caddyfleet/protocol';

const INTERNAL_ISSUER_DIR = 'local';
/** A chain file bigger than this is not one Caddy wrote. */
const MAX_CRT_BYTES = 256 * 1024;

/** `CN=Caddy Local Authority - ECC Intermediate` (one attribute per line in Node's rendering) → its CN. */
function commonName(dn: string): string {
  const cn = dn.split('\n').find((l) => l.startsWith('CN='));
  return (cn ? cn.slice(3) : dn.replace(/\n/g, ', ')).slice(0, 300);
}

/** DNS names and IP addresses of the subjectAltName, else the subject's CN. */
function subjectsOf(x509: X509Certificate): string[] {
  const names = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry)?.[1]?.trim())
    .filter((n): n is string => Boolean(n));
  const list = names.length ? names : [commonName(x509.subject)];
  return list.slice(0, 100).map((n) => n.slice(0, 300));
}

export function describeCertificate(pem: string, issuerDir: string): Certificate {
  const x509 = new X509Certificate(pem);
  return {
    subjects: subjectsOf(x509),
    issuer: commonName(x509.issuer),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    kind: issuerDir === INTERNAL_ISSUER_DIR ? 'internal' : 'managed',
  };
}

/**
 * Reads and parses the stored certificates, soonest expiry first. Parsed results are kept per file (keyed by
 * size and mtime), so the heartbeat that calls this re-reads only what Caddy renewed. Unreadable files are skipped.
 */
export class CertificateScanner {
  private readonly cache = new Map<string, { stamp: string; cert: Certificate }>();

  constructor(private readonly storageDir: string) {}

  async list(): Promise<Certificate[]> {
    const root = path.join(this.storageDir, 'certificates');
    const out: Certificate[] = [];
    const seen = new Set<string>();
    for (const issuer of await dirs(root)) {
      for (const name of await dirs(path.join(root, issuer))) {
        if (out.length >= MAX_REPORTED_CERTIFICATES) break;
        const file = path.join(root, issuer, name, `${name}.crt`);
        const cert = await this.read(file, issuer);
        if (cert) {
          out.push(cert);
          seen.add(file);
        }
      }
    }
    for (const file of this.cache.keys()) if (!seen.has(file)) this.cache.delete(file);
    return out.sort((a, b) => (a.notAfter < b.notAfter ? -1 : a.notAfter > b.notAfter ? 1 : 0));
  }

  private async read(file: string, issuerDir: string): Promise<Certificate | null> {
    try {
      const st = await stat(file);
      if (!st.isFile() || st.size > MAX_CRT_BYTES) return null;
      const stamp = `${st.size}:${st.mtimeMs}`;
      const cached = this.cache.get(file);
      if (cached?.stamp === stamp) return cached.cert;
      const cert = describeCertificate(await readFile(file, 'utf8'), issuerDir);
      this.cache.set(file, { stamp, cert });
      return cert;
    } catch {
      return null;
    }
  }
}

async function dirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
      .slice(0, MAX_REPORTED_CERTIFICATES);
  } catch {
    return []; // No storage yet.
  }
}

/**
 * Keeps the count for status frames and sends the list to the controller when it changed or the current
 * connection has not had it. Without a scanner (an existing Caddy, whose storage is unknown) the list is empty.
 */
export class CertificateReporter {
  count = 0;
  private sent: { key: string; connects: number } | null = null;

  constructor(
    private readonly scanner: CertificateScanner | null,
    private readonly connection: () => { connected: boolean; connects: number; send(frame: AgentFrame): boolean } | null,
  ) {}

  /** Rescans the storage (and reports when due); returns the number of certificates. */
  async refresh(): Promise<number> {
    const certificates = this.scanner ? await this.scanner.list() : [];
    this.count = certificates.length;
    const key = JSON.stringify(certificates);
    const conn = this.connection();
    if (conn?.connected && (this.sent?.key !== key || this.sent.connects !== conn.connects)) {
      if (conn.send({ type: 'certificates', certificates })) this.sent = { key, connects: conn.connects };
    }
    return this.count;
  }
}
