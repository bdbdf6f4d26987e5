/** Atomic file writes with an owner: the file appears under its final name only complete and already locked down. */
import { randomBytes } from 'node:crypto';
import { copyFile, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const tmpName = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

async function renameOrClean(tmp: string, file: string): Promise<void> {
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeOwnedFile(file: string, data: string, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
  const tmp = tmpName(file);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.chmod(mode); // the umask may have stripped bits
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

/**
 * Copies an executable into place by rename, so a binary that is running (the installed agent upgrading itself,
 * or the unit's process) is replaced without "text file busy" and without a moment where the path is partial.
 */
export async function installExecutable(source: string, target: string): Promise<void> {
  const tmp = tmpName(target);
  try {
    await copyFile(source, tmp);
    const handle = await open(tmp, 'r+');
    try {
      await handle.chmod(0o755);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await renameOrClean(tmp, target);
}
