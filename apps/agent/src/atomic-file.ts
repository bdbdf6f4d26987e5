/**
 * Atomic file writes: a file appears under its final name only complete and already locked down (mode, owner),
 * through a temp file in the same directory (rename is atomic only within a file system). A crash or power loss
 * leaves either the old or the new file, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A hidden, unique temp name next to `file`. */
export const tempNameFor = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/** Renames `tmp` to `file`, removing `tmp` when that fails. */
export async function renameOrClean(tmp: string, file: string): Promise<void> {
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Writes `data` to `file` with exactly `mode` (and `owner` when given) before it is visible under its name. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600, owner?: { uid: number; gid: number }): Promise<void> {
  const tmp = tempNameFor(file);
  const handle = await open(tmp, 'wx', mode);
  try {
    // The umask may have stripped bits from `mode`; chmod makes the mode exact.
    await handle.chmod(mode);
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await renameOrClean(tmp, file);
}
