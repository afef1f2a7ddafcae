import { execa } from 'execa';
import { CliError } from './errors.js';

/** `-a/--app`, else the app named by the current repository's `deploy` remote. */
export async function resolveApp(explicit: string | undefined, cwd: string): Promise<string> {
  if (explicit) return explicit;
  const { stdout, exitCode } = await execa('git', ['remote', 'get-url', 'deploy'], { cwd, reject: false });
  const match = exitCode === 0 ? /\/([^/]+?)\.git\/?$/.exec(stdout.trim()) : null;
  if (!match) {
    throw new CliError('No app given: pass -a <app>, or run this in a repository with a "deploy" remote (slipway git:remote -a <app>).');
  }
  return match[1]!;
}
