/** Files the controller uploads to hosts (the agent binary, optionally a Caddy binary), with their SHA-256. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface Artifact {
  path: string;
  size: number;
  sha256: string;
}

const cache = new Map<string, { key: string; artifact: Artifact }>();

/** Hashes the file, or reuses the hash while its size and mtime are unchanged. */
export async function loadArtifact(path: string): Promise<Artifact> {
  const st = await stat(path);
  if (!st.isFile()) throw new Error(`${path} is not a file`);
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.key === key) return hit.artifact;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const artifact = { path, size: st.size, sha256: hash.digest('hex') };
  cache.set(path, { key, artifact });
  return artifact;
}
