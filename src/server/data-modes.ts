import { chmodSync, lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { STORAGE_DIR_MODE } from '../deploy/containers.js';

/**
 * Takes every permission for group and others away under the data directory — the database
 * (app secrets are in it, and SQLite gives its -wal and -shm files the database's mode), the
 * admin token, the repositories, the logs — so that no other user on the host can read them,
 * whatever umask created them: directories become 0700, files keep only their owner's bits
 * (0600, or 0400 for git's read-only objects). Storage directories get STORAGE_DIR_MODE and
 * what is inside them is the apps' own, left as the apps made it. Symbolic links are not followed.
 * Returns warnings for what it could not change.
 */
export function secureDataDir(dataDir: string): string[] {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const warnings: string[] = [];
  secure(dataDir, [], warnings);
  return warnings;
}

/** A file it may not change (another user's, on a read-only disk) goes into `warnings`, for the server's log: said, not fatal. */
function secure(file: string, relative: string[], warnings: string[]): void {
  let stats: Stats;
  try {
    stats = lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile
    throw error;
  }
  if (stats.isSymbolicLink()) return;
  const storage = stats.isDirectory() && isStorageDir(relative);
  const mode = storage ? STORAGE_DIR_MODE : stats.isDirectory() ? 0o700 : stats.mode & 0o700;
  try {
    if ((stats.mode & 0o7777) !== mode) chmodSync(file, mode);
    if (storage || !stats.isDirectory()) return;
    for (const entry of readdirSync(file)) secure(path.join(file, entry), [...relative, entry], warnings);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'EROFS') throw error;
    warnings.push(`warning: could not make ${file} mode ${mode.toString(8)} (${code}); give it to the server's user (chown) so that only it can read it`);
  }
}

/** `volumes/<app>/<mount>`, relative to the data directory. */
function isStorageDir(relative: string[]): boolean {
  return relative.length === 3 && relative[0] === 'volumes';
}
