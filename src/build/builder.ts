import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildFailedError, type BuildRequest, type Runtime } from '../runtime/runtime.js';
import { detectApp, pythonMatches, type AppKind, type PythonApp } from './detect.js';
import { BuildRefusedError } from './errors.js';
import {
  inferProcesses,
  nodePlan,
  plainPlan,
  pythonPlan,
  STACK_DOCKERFILE_NAME,
  STATIC_SERVER_FILE,
  staticPlan,
  type BuildPlan,
  type InferredProcesses,
} from './plan.js';
import type { CommitSource } from './source.js';
import type { BuildOutput, NodeToolchain } from './toolchain.js';
import { resolveNode, resolveNpm, type Resolved } from './versions.js';

export type { BuildOutput } from './toolchain.js';

export interface BuildInput {
  source: CommitSource;
  /** Root entries of the commit, as read once by the caller. */
  entries: ReadonlySet<string>;
  app: string;
  tag: string;
  labels: Record<string, string>;
}

export interface ImageBuilderOptions {
  runtime: Runtime;
  stackImage: string;
  toolchain: NodeToolchain;
  /** Passed to npm, yarn and pnpm inside builds, so they use the registry the server uses. */
  npmRegistry: string;
  /** Where builds keep temporary files; the server empties it at every start. */
  tmpRoot?: string;
  now?: () => Date;
}

/** The static server's compiled file, copied into static sites' images. */
const STATIC_SERVER_SOURCE = fileURLToPath(new URL('./static-server.js', import.meta.url));

/**
 * Turns a commit into an image: its own Dockerfile when it has one, otherwise a Dockerfile
 * generated for what the commit is (Node, a static site, Python, or a Procfile on the stack),
 * each step announced in one readable line.
 */
export class ImageBuilder {
  private readonly tmpRoot: string;
  private readonly now: () => Date;

  constructor(private readonly options: ImageBuilderOptions) {
    this.tmpRoot = options.tmpRoot ?? tmpdir();
    this.now = options.now ?? (() => new Date());
  }

  describe(entries: ReadonlySet<string>): string {
    return entries.has('Dockerfile') ? 'Dockerfile' : `stack image ${this.options.stackImage}`;
  }

  async detect(source: CommitSource, entries: ReadonlySet<string>): Promise<AppKind> {
    return detectApp(entries, async (file) => Buffer.from(await source.readFile(file)).toString('utf8'));
  }

  /** The processes a commit without a Procfile runs, or undefined when none can be inferred. */
  async inferProcesses(source: CommitSource, entries: ReadonlySet<string>): Promise<InferredProcesses | undefined> {
    if (entries.has('Dockerfile')) return undefined;
    const app = await this.detect(source, entries);
    const inferred = inferProcesses(app);
    if (inferred !== undefined) return inferred;
    // Say what this kind of app needs rather than the general sentence.
    if (app.kind === 'python') {
      throw new BuildRefusedError(
        `There is no Procfile at the root of the commit, and a Python app needs one; add one with a line such as "web: gunicorn app:app" or "web: python app.py" and push again`,
      );
    }
    if (app.kind === 'node') {
      throw new BuildRefusedError(
        'There is no Procfile at the root of the commit and package.json has no start script; add a start script (as for npm start) or a Procfile with a line such as "web: node server.js", and push again',
      );
    }
    return undefined;
  }

  async build(input: BuildInput, out: BuildOutput): Promise<void> {
    const buildArgs: Record<string, string> = { SOURCE_VERSION: input.source.sha };
    if (input.entries.has('Dockerfile')) {
      // Docker warns about build args a Dockerfile does not declare; pass it only when wanted.
      const dockerfile = Buffer.from(await input.source.readFile('Dockerfile')).toString('utf8');
      const context = await this.context(input, []);
      const args = /^\s*ARG\s+SOURCE_VERSION\b/im.test(dockerfile) ? buildArgs : {};
      await this.options.runtime.buildImage({ context, tag: input.tag, dockerfile: 'Dockerfile', labels: input.labels, buildArgs: args }, (line) =>
        out.detail(line),
      );
      return;
    }
    const app = await this.detect(input.source, input.entries);
    const plan = await this.plan(app, input, out);
    if (app.kind === 'node' || app.kind === 'static') buildArgs.npm_config_registry = this.options.npmRegistry;
    const dir = await mkdtemp(path.join(this.tmpRoot, 'build-'));
    try {
      const files = [path.join(dir, STACK_DOCKERFILE_NAME)];
      await writeFile(files[0]!, plan.dockerfile);
      if (plan.dockerfile.includes(STATIC_SERVER_FILE)) {
        files.push(path.join(dir, STATIC_SERVER_FILE));
        await copyFile(STATIC_SERVER_SOURCE, files[1]!);
      }
      const request: BuildRequest = {
        context: await this.context(input, files),
        tag: input.tag,
        dockerfile: STACK_DOCKERFILE_NAME,
        labels: input.labels,
        buildArgs,
        steps: plan.steps.map((s) => ({ marker: s.marker, name: `-----> ${s.name}` })),
      };
      try {
        await this.options.runtime.buildImage(request, (line) => (line.startsWith('-----> ') ? out.phase(line.slice(7)) : out.detail(line)));
      } catch (error) {
        throw readableFailure(error, plan);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async plan(app: AppKind, input: BuildInput, out: BuildOutput): Promise<BuildPlan> {
    const { toolchain } = this.options;
    switch (app.kind) {
      case 'node': {
        const node = resolveNode(app.node, await toolchain.nodeVersions(), this.now());
        out.phase(`Node ${node.version} (${node.why})`);
        const npm = resolveNpm(app.npm, await toolchain.npmReleases(), node.version);
        if (app.npm !== undefined || app.manager.name === 'npm') out.phase(`npm ${npm.version} (${npm.why})`);
        return nodePlan(await this.base(node, npm, out), input.app, app);
      }
      case 'static': {
        const node = resolveNode(undefined, await toolchain.nodeVersions(), this.now());
        out.phase(`Static site (index.html, no package.json): served by Slipway's static server on Node ${node.version}, the newest Active LTS`);
        const npm = resolveNpm(undefined, await toolchain.npmReleases(), node.version);
        return staticPlan(await this.base(node, npm, out));
      }
      case 'python':
        return this.pythonPlan(app, input);
      case 'plain': {
        // Procfile commands often call node (a one-liner server, a hook): they get the LTS.
        const node = resolveNode(undefined, await toolchain.nodeVersions(), this.now());
        out.phase(
          `No package.json, requirements.txt or index.html: the Procfile's commands run on the stack, with Node ${node.version} (the newest Active LTS)`,
        );
        const npm = resolveNpm(undefined, await toolchain.npmReleases(), node.version);
        return plainPlan(await this.base(node, npm, out));
      }
      case 'dockerfile':
        throw new Error('a Dockerfile app has no generated plan');
    }
  }

  private async base(node: Resolved, npm: Resolved, out: BuildOutput): Promise<string> {
    return this.options.toolchain.baseImage(node.version, npm.version, out);
  }

  private async pythonPlan(app: PythonApp, input: BuildInput): Promise<BuildPlan> {
    const stack = await this.stackInfo();
    const version = stack.labels['org.slipway.python'];
    if (version === undefined) {
      throw new BuildRefusedError(`The stack image ${this.options.stackImage} has no Python; rebuild it with scripts/setup, or add a Dockerfile`);
    }
    if (app.python !== undefined && !pythonMatches(app.python.range, version)) {
      throw new BuildRefusedError(
        `${app.python.from} asks for Python ${app.python.range}, but the stack has Python ${version} only: ask for ${version.split('.').slice(0, 2).join('.')}, or add a Dockerfile FROM the Python you need`,
      );
    }
    const why = app.python === undefined ? "the stack's" : `${app.python.from} "${app.python.range}"`;
    const requirements = app.install === 'requirements.txt' ? Buffer.from(await input.source.readFile('requirements.txt')).toString('utf8') : '';
    return pythonPlan(this.options.stackImage, input.app, app, requirements, version, why);
  }

  private async stackInfo(): Promise<{ id: string; labels: Record<string, string> }> {
    const info = await this.options.runtime.imageInfo(this.options.stackImage);
    if (info === null) {
      throw new BuildRefusedError(
        `The stack image ${this.options.stackImage} is missing on this server; build it with scripts/setup, or add a Dockerfile to the app`,
      );
    }
    return info;
  }

  private async context(input: BuildInput, extraFiles: string[]): Promise<Buffer> {
    try {
      return await input.source.archive(extraFiles);
    } catch (error) {
      throw new BuildFailedError(`could not export the commit: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/**
 * BuildKit's failure names the shell command (`process "/bin/sh -c npm ci …" did not complete
 * successfully: exit code: 1`); the user reads the step's name instead, its output being above.
 */
export function readableFailure(error: unknown, plan: BuildPlan): unknown {
  if (!(error instanceof BuildFailedError) || error instanceof BuildRefusedError) return error;
  const step = plan.steps.find((s) => error.message.includes(s.marker));
  if (step === undefined) return error;
  const code = /exit code: (\d+)/.exec(error.message)?.[1];
  return new BuildRefusedError(`${step.name} failed${code === undefined ? '' : ` with exit code ${code}`}; its output is above`);
}
