import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BuildFailedError, type Runtime } from '../runtime/runtime.js';
import type { CommitSource } from './source.js';
import { stackDockerfile, STACK_DOCKERFILE_NAME } from './stack.js';

export interface BuildInput {
  source: CommitSource;
  /** Root entries of the commit, as read once by the caller. */
  entries: ReadonlySet<string>;
  tag: string;
  labels: Record<string, string>;
}

/**
 * Turns a commit into an image: its own Dockerfile when it has one, otherwise the commit
 * copied onto the stack image (with `npm ci` and `npm run build` for a Node app).
 */
export class ImageBuilder {
  constructor(
    private readonly runtime: Runtime,
    private readonly stackImage: string,
    /** Where builds keep temporary files; the server empties it at every start. */
    private readonly tmpRoot: string = tmpdir(),
  ) {}

  describe(entries: ReadonlySet<string>): string {
    return entries.has('Dockerfile') ? 'Dockerfile' : `stack image ${this.stackImage}`;
  }

  async build(input: BuildInput, onLine: (line: string) => void): Promise<void> {
    const buildArgs = { SOURCE_VERSION: input.source.sha };
    if (input.entries.has('Dockerfile')) {
      // Docker warns about build args a Dockerfile does not declare; pass it only when wanted.
      const dockerfile = Buffer.from(await input.source.readFile('Dockerfile')).toString('utf8');
      await this.buildFrom(input, 'Dockerfile', [], /^\s*ARG\s+SOURCE_VERSION\b/im.test(dockerfile) ? buildArgs : {}, onLine);
      return;
    }
    if (!(await this.runtime.imageExists(this.stackImage))) {
      throw new BuildFailedError(
        `the stack image ${this.stackImage} is missing on this server; build it with scripts/setup, or add a Dockerfile to the app`,
      );
    }
    const dir = await mkdtemp(path.join(this.tmpRoot, 'build-'));
    try {
      const file = path.join(dir, STACK_DOCKERFILE_NAME);
      await writeFile(file, stackDockerfile(this.stackImage, input.entries));
      await this.buildFrom(input, STACK_DOCKERFILE_NAME, [file], buildArgs, onLine);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async buildFrom(
    input: BuildInput,
    dockerfile: string,
    extraFiles: string[],
    buildArgs: Record<string, string>,
    onLine: (line: string) => void,
  ): Promise<void> {
    let context: Buffer;
    try {
      context = await input.source.archive(extraFiles);
    } catch (error) {
      throw new BuildFailedError(`could not export the commit: ${error instanceof Error ? error.message : String(error)}`);
    }
    await this.runtime.buildImage({ context, tag: input.tag, dockerfile, labels: input.labels, buildArgs }, onLine);
  }
}
