/** Installing an executable by rename (config and unit files are written with ../atomic-file.ts). */
import { copyFile, open, rm } from 'node:fs/promises';
import { renameOrClean, tempNameFor } from '../atomic-file';

/**
 * Copies an executable into place by rename, so a binary that is running (the installed agent upgrading itself,
 * or the unit's process) is replaced without "text file busy" and without a moment where the path is partial.
 */
export async function installExecutable(source: string, target: string): Promise<void> {
  const tmp = tempNameFor(target);
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
