import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RefPublisher } from '../deploy/pipeline.js';

export const APP_NAME = /^[a-z][a-z0-9-]{1,38}$/;
const ZERO_OID = '0000000000000000000000000000000000000000';
/** In each bare repository (git ignores it): the settings last written to its config. */
const CONFIGURED_MARKER = 'slipway-configured.json';

export function appNameProblem(name: string): string | undefined {
  if (APP_NAME.test(name)) return undefined;
  const shown = name.length > 60 ? `${name.slice(0, 57)}...` : name;
  return `"${shown}" is not a valid app name: use 2 to 39 lowercase letters, digits and dashes, starting with a letter (e.g. my-app)`;
}

/**
 * The bare repositories, one per app, under `<data>/repos/<app>.git`. Each is wired to the
 * project's hooks: git's proc-receive hook handles every branch push and relays it to the
 * server over `socketPath`.
 */
export class Repos {
  constructor(
    readonly dir: string,
    private readonly hooksDir: string,
    private readonly socketPath: string,
    private readonly maxPushMb = 1024,
  ) {}

  pathFor(app: string): string {
    if (!APP_NAME.test(app)) throw new Error(appNameProblem(app));
    return path.join(this.dir, `${app}.git`);
  }

  exists(app: string): boolean {
    return existsSync(path.join(this.pathFor(app), 'HEAD'));
  }

  private readonly creating = new Map<string, Promise<void>>();

  /** Creates the app's repository when missing; idempotent, and safe for concurrent first pushes. */
  async ensure(app: string): Promise<void> {
    const dir = this.pathFor(app);
    const inFlight = this.creating.get(app);
    if (inFlight) return inFlight;
    if (this.exists(app)) return;
    const creation = (async () => {
      await mkdir(this.dir, { recursive: true });
      await execa('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
      await this.configure(dir);
    })().finally(() => this.creating.delete(app));
    this.creating.set(app, creation);
    return creation;
  }

  private emptyAdvertisement: Promise<Buffer> | undefined;

  /**
   * What `git-receive-pack` advertises for an app that has no repository yet: no refs, and the
   * capabilities of an app's repository. A push asks for it first; answering it lets that push
   * go on while nothing is created until its commands arrive. It is git's own answer, taken once
   * from a configured empty repository made (and removed) for the purpose.
   */
  advertiseNew(): Promise<Buffer> {
    this.emptyAdvertisement ??= (async () => {
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'slipway-empty-'));
      try {
        const dir = path.join(scratch, 'new.git');
        await execa('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
        await this.configure(dir);
        const { stdout } = await execa('git', ['receive-pack', '--stateless-rpc', '--advertise-refs', dir], { encoding: 'buffer' });
        return Buffer.from(stdout);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    })();
    // A failure is not kept: the next push tries again.
    this.emptyAdvertisement.catch(() => (this.emptyAdvertisement = undefined));
    return this.emptyAdvertisement;
  }

  /** Deletes the app's repository. */
  async remove(app: string): Promise<void> {
    await rm(this.pathFor(app), { recursive: true, force: true });
  }

  /** Re-points every repository at this server's hooks and socket (run at startup). */
  async configureAll(): Promise<void> {
    if (!existsSync(this.dir)) return;
    for (const entry of await readdir(this.dir)) {
      const app = entry.replace(/\.git$/, '');
      if (entry.endsWith('.git') && APP_NAME.test(app)) await this.configure(path.join(this.dir, entry));
    }
  }

  /** The app whose repository is `gitDir`, or undefined when it is not one of ours. */
  appFor(gitDir: string): string | undefined {
    const resolved = path.resolve(gitDir);
    if (path.dirname(resolved) !== path.resolve(this.dir)) return undefined;
    const app = path.basename(resolved).replace(/\.git$/, '');
    return APP_NAME.test(app) && this.pathFor(app) === resolved ? app : undefined;
  }

  /** A RefPublisher that moves a branch to the commit that now serves. */
  publisher(): RefPublisher {
    return {
      publish: async (app, ref, commit, from) => {
        // With the old value, git moves the branch only if it still is there (a compare-and-swap).
        const expected = from === undefined ? [] : [from ?? ZERO_OID];
        await execa('git', ['update-ref', ref, commit, ...expected], { cwd: this.pathFor(app) });
      },
    };
  }

  /** The commit `ref` names in the app's repository, or null when the branch does not exist. */
  async branchCommit(app: string, ref: string): Promise<string | null> {
    const { stdout, exitCode } = await execa('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: this.pathFor(app), reject: false });
    return exitCode === 0 ? stdout.trim() : null;
  }

  /** Whether `ancestor` is `commit` or in its history. */
  async contains(app: string, commit: string, ancestor: string): Promise<boolean> {
    const { exitCode } = await execa('git', ['merge-base', '--is-ancestor', ancestor, commit], { cwd: this.pathFor(app), reject: false });
    return exitCode === 0;
  }

  /** Which of `commits` the app's repository does not have. */
  async missingCommits(app: string, commits: string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const commit of commits) {
      const { exitCode } = await execa('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: this.pathFor(app), reject: false });
      if (exitCode !== 0) missing.push(commit);
    }
    return missing;
  }

  private async configure(dir: string): Promise<void> {
    const settings: [string, string][] = [
      ['core.hooksPath', this.hooksDir],
      // Every branch push goes through proc-receive, which updates the ref only on success.
      ['receive.procReceiveRefs', 'refs/heads'],
      ['slipway.socket', this.socketPath],
      // git refuses a larger pack before storing anything.
      ['receive.maxInputSize', `${this.maxPushMb}m`],
    ];
    // A start checks every repository: git runs only where the settings changed (four git
    // processes per app would make the start grow with the number of apps).
    const wanted = JSON.stringify(settings);
    const marker = path.join(dir, CONFIGURED_MARKER);
    if ((await readFile(marker, 'utf8').catch(() => '')) === wanted) return;
    for (const [key, value] of settings) await execa('git', ['config', key, value], { cwd: dir });
    await writeFile(marker, wanted, { mode: 0o600 });
  }
}
