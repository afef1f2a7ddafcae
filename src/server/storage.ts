import { statfs, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

/**
 * Whether the data directory can take a push: it must be writable and keep `minFreeMb` free.
 * Returns the sentence to show the developer when it cannot, undefined when it can.
 */
export async function storageProblem(dataDir: string, minFreeMb: number): Promise<string | undefined> {
  // One file per check: pushes arrive together, and one check must not remove another's probe.
  const probe = path.join(dataDir, `.write-probe-${process.pid}-${randomUUID()}`);
  try {
    await writeFile(probe, 'ok');
    await unlink(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
      return `Slipway cannot write to its data directory ${dataDir} (${code}); make it writable and push again.`;
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return `The disk holding Slipway's data directory ${dataDir} is full; free some space (docker image prune, old logs) and push again.`;
    }
    throw error;
  }
  const stats = await statfs(dataDir);
  const freeMb = Math.floor((stats.bavail * stats.bsize) / 1024 / 1024);
  if (freeMb < minFreeMb) {
    return `The disk holding Slipway's data directory ${dataDir} has ${freeMb} MB free, under the ${minFreeMb} MB a push needs; free some space (docker image prune, old logs) and push again.`;
  }
  return undefined;
}
