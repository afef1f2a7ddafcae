import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

export interface PushResult {
  exitCode: number;
  /** Everything git printed (stderr then stdout). */
  output: string;
  /** The `remote:` lines, without the prefix and git's padding. */
  remote: string[];
}

/** A real git working copy with a `main` branch, made from a map of file contents. */
export class TestApp {
  readonly dir: string;
  private readonly created: string[] = [];

  constructor(files: Record<string, string | Buffer>) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-app-'));
    this.created.push(this.dir);
    this.write(files);
  }

  write(files: Record<string, string | Buffer | null>): void {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(this.dir, name);
      if (content === null) rmSync(file, { force: true });
      else {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
      }
    }
  }

  async git(...args: string[]): Promise<string> {
    const { stdout } = await execa('git', args, { cwd: this.dir, env: GIT_ENV });
    return stdout;
  }

  /** Commits everything (creating the repo on first use) and returns the commit's SHA. */
  async commit(message: string, files: Record<string, string | Buffer | null> = {}): Promise<string> {
    this.write(files);
    await execa('git', ['init', '-q', '-b', 'main'], { cwd: this.dir, env: GIT_ENV });
    await this.git('add', '-A');
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  /**
   * Runs `git push`, calling `onRemoteLine` for each `remote:` line the moment it arrives.
   */
  push(
    remote: string,
    refspec = 'main',
    options: { onRemoteLine?: (line: string) => void; args?: string[]; onSpawn?: (child: ChildProcess) => void } = {},
  ): Promise<PushResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', ['push', '--progress', ...(options.args ?? []), remote, refspec], {
        cwd: this.dir,
        env: { ...process.env, ...GIT_ENV },
        // Its own process group, so a test can kill git and its helpers the way Ctrl-C does.
        detached: true,
      });
      options.onSpawn?.(child);
      let output = '';
      let partial = '';
      const remoteLines: string[] = [];
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        output += text;
        partial += text;
        const pieces = partial.split(/\r?\n|\r/);
        partial = pieces.pop() ?? '';
        for (const piece of pieces) {
          const m = /^remote:\s*(.*?)\s*$/.exec(piece);
          if (m) {
            remoteLines.push(m[1]!);
            options.onRemoteLine?.(m[1]!);
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (code) => resolve({ exitCode: code ?? -1, output, remote: remoteLines }));
    });
  }

  remove(): void {
    for (const dir of this.created) rmSync(dir, { recursive: true, force: true });
  }
}
