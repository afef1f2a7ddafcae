import { execa } from 'execa';

/** Commits never change: their subjects are kept once read (this many, the oldest dropped first). */
const MAX_CACHED = 10_000;

/**
 * Commit subjects (the first line of each message), read from an app's repository in one `git
 * log` call. A commit the repository no longer has (or a repository that is gone) has none.
 */
export class CommitSubjects {
  private readonly cache = new Map<string, string>();

  async of(gitDir: string, commits: readonly string[]): Promise<Map<string, string>> {
    const wanted = [...new Set(commits.filter((c) => /^[0-9a-f]{40,64}$/.test(c) && !this.cache.has(c)))];
    if (wanted.length > 0) {
      const result = await execa('git', ['log', '--no-walk=unsorted', '--ignore-missing', '--format=%H%x00%s', ...wanted, '--'], {
        cwd: gitDir,
        reject: false,
        env: { GIT_DIR: gitDir },
      });
      if (result.exitCode === 0) {
        for (const line of result.stdout.split('\n')) {
          const [sha, subject] = line.split('\0');
          if (!sha || subject === undefined) continue;
          if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
          this.cache.set(sha, subject);
        }
      }
    }
    const found = new Map<string, string>();
    for (const c of commits) {
      const subject = this.cache.get(c);
      if (subject !== undefined) found.set(c, subject);
    }
    return found;
  }
}
