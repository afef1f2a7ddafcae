import { execa } from 'execa';
import { simpleGit } from 'simple-git';

export interface CommitInfo {
  sha: string;
  subject: string;
  author: string;
}

/** Reads one pushed commit out of a bare repository, without checking it out. */
export class CommitSource {
  constructor(
    readonly gitDir: string,
    readonly sha: string,
  ) {}

  async info(): Promise<CommitInfo> {
    const log = await simpleGit(this.gitDir).log(['-1', this.sha]);
    const latest = log.latest;
    return { sha: this.sha, subject: latest?.message ?? '', author: latest?.author_name ?? '' };
  }

  /** Names of the files and directories at the root of the commit's tree. */
  async rootEntries(): Promise<Set<string>> {
    const { stdout } = await execa('git', ['ls-tree', '--name-only', '-z', this.sha], { cwd: this.gitDir, stripFinalNewline: false });
    return new Set(stdout.split('\0').filter((name) => name !== ''));
  }

  /** The raw bytes of a file in the commit. */
  async readFile(path: string): Promise<Uint8Array> {
    const { stdout } = await execa('git', ['cat-file', 'blob', `${this.sha}:${path}`], {
      cwd: this.gitDir,
      encoding: 'buffer',
      stripFinalNewline: false,
    });
    return stdout;
  }

  /**
   * The commit as a tar archive, straight from git: this is the image's build context.
   * `extraFiles` (absolute paths) are added at the root of the archive.
   */
  async archive(extraFiles: readonly string[] = []): Promise<Buffer> {
    // The tree, not the commit: a commit's archive starts with a pax header holding the commit
    // id, which BuildKit can read as an empty context.
    const { stdout } = await execa('git', ['archive', '--format=tar', ...extraFiles.map((f) => `--add-file=${f}`), `${this.sha}^{tree}`], {
      cwd: this.gitDir,
      encoding: 'buffer',
      stripFinalNewline: false,
      maxBuffer: 2 * 1024 ** 3,
    });
    return Buffer.from(stdout);
  }
}
