/** Counts the certificates Caddy keeps in its storage (`<storage>/certificates/<issuer>/<name>/<name>.crt`). */
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Bounded walk: the layout is three levels deep; anything deeper or past `maxEntries` is not Caddy's. */
export async function countCertificates(storageDir: string, maxEntries = 100_000): Promise<number> {
  let count = 0;
  let seen = 0;
  async function walk(dir: string, depth: number): Promise<void> {
    if (depth > 4 || seen > maxEntries) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // No storage yet.
    }
    for (const e of entries) {
      if (++seen > maxEntries) return;
      if (e.isDirectory()) await walk(path.join(dir, e.name), depth + 1);
      else if (e.isFile() && e.name.endsWith('.crt')) count++;
    }
  }
  await walk(path.join(storageDir, 'certificates'), 0);
  return count;
}
