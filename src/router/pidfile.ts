import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function routerPidFile(dataDir: string): string {
  return path.join(dataDir, 'router.pid');
}

export function routerSocket(dataDir: string): string {
  return path.join(dataDir, 'router.sock');
}

/** The pid of the router process serving `dataDir`, if one runs. */
export function runningRouter(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(routerPidFile(dataDir), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  // After a reboot the pid may name another program: only a router for this directory counts.
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!args.includes('router') || !args.some((a) => path.resolve(a) === path.resolve(dataDir))) return undefined;
  } catch {
    // No /proc (not Linux): the live pid has to do.
  }
  return pid;
}

/** Written whole or not at all (a reader never sees half a pid). */
export function writeRouterPid(dataDir: string, pid: number): void {
  const file = routerPidFile(dataDir);
  writeFileSync(`${file}.${pid}`, `${pid}\n`, { mode: 0o644 });
  renameSync(`${file}.${pid}`, file);
}

/** Removes the pid file if it still names `pid` (a successor may have written its own). */
export function removeRouterPid(dataDir: string, pid: number): void {
  try {
    if (Number(readFileSync(routerPidFile(dataDir), 'utf8').trim()) === pid) rmSync(routerPidFile(dataDir), { force: true });
  } catch {
    // already gone
  }
}
