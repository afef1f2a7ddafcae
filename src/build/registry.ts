import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BuildRefusedError } from './errors.js';

export interface PackageVersion {
  version: string;
  engines?: Record<string, string>;
  dist: { tarball: string; integrity?: string };
}

export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, PackageVersion>;
}

/** Packuments are fetched again after this long, so a new Node release is seen within minutes. */
const PACKUMENT_TTL_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 60_000;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * The npm registry, read with plain HTTPS (its packument format is a stable public API): which
 * versions of a package exist, and their tarballs, checked against the registry's integrity.
 */
export class NpmRegistry {
  private readonly packuments = new Map<string, { at: number; value: Promise<Packument> }>();

  constructor(
    readonly url: string,
    /** Where the last packument read is kept, so builds of known versions go on when the registry is away. */
    private readonly cacheDir?: string,
    private readonly now: () => number = Date.now,
  ) {}

  packument(name: string): Promise<Packument> {
    const cached = this.packuments.get(name);
    if (cached !== undefined && this.now() - cached.at < PACKUMENT_TTL_MS) return cached.value;
    const value = this.fetchPackument(name);
    this.packuments.set(name, { at: this.now(), value });
    value.catch(() => this.packuments.delete(name));
    return value;
  }

  private async fetchPackument(name: string): Promise<Packument> {
    const file = this.cacheDir === undefined ? undefined : path.join(this.cacheDir, `${name.replace('/', '+')}.packument.json`);
    try {
      const packument = await this.fetchFresh(name);
      if (file !== undefined) {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(`${file}.${process.pid}`, JSON.stringify(packument));
        await rename(`${file}.${process.pid}`, file);
      }
      return packument;
    } catch (error) {
      if (file === undefined) throw error;
      try {
        return JSON.parse(await readFile(file, 'utf8')) as Packument;
      } catch {
        throw error;
      }
    }
  }

  private async fetchFresh(name: string): Promise<Packument> {
    const url = new URL(name.replace('/', '%2f'), this.base()).toString();
    let response: Response;
    try {
      // The abbreviated form holds versions, engines and tarballs, and is a fraction of the size.
      response = await fetch(url, {
        headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw this.unreachable(name, error);
    }
    if (!response.ok) throw this.unreachable(name, new Error(`HTTP ${response.status}`));
    return (await response.json()) as Packument;
  }

  /** Downloads a tarball to `file` (atomically), checking the registry's sha512 integrity. */
  async download(pkg: PackageVersion, file: string): Promise<void> {
    const partial = `${file}.${process.pid}.partial`;
    const expected = /^sha512-(.+)$/.exec(pkg.dist.integrity ?? '')?.[1];
    const hash = createHash('sha512');
    try {
      const response = await fetch(pkg.dist.tarball, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
      if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        }),
        createWriteStream(partial),
      );
      if (expected !== undefined && hash.digest('base64') !== expected) {
        throw new Error('its content does not match the integrity the registry lists');
      }
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw this.unreachable(`${pkg.dist.tarball}`, error);
    }
  }

  private base(): string {
    return this.url.endsWith('/') ? this.url : `${this.url}/`;
  }

  private unreachable(what: string, error: unknown): BuildRefusedError {
    const why = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return new BuildRefusedError(
      `Could not read ${what} from the npm registry ${this.url} (${why}); the server needs it to install the app's Node, npm, yarn or pnpm: check its network or SLIPWAY_NPM_REGISTRY, or add a Dockerfile`,
    );
  }
}
