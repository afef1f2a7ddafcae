import { BuildRefusedError } from './errors.js';
import type { VersionRequest } from './versions.js';

/** What the stack builds, decided from the root of the commit (pure: files come through `read`). */
export type AppKind = DockerfileApp | NodeApp | StaticApp | PythonApp | PlainApp;

export interface DockerfileApp {
  kind: 'dockerfile';
}

export interface PackageManager {
  name: 'npm' | 'yarn' | 'pnpm';
  /** The lockfile it installs from, when the commit has one. */
  lockfile?: string;
  /** The exact version `packageManager` names (`pnpm@9.12.0`). */
  version?: string;
}

export interface NodeApp {
  kind: 'node';
  node?: VersionRequest;
  npm?: VersionRequest;
  manager: PackageManager;
  scripts: { build: boolean; start: boolean };
  /** Has devDependencies, to prune after the build. */
  devDependencies: boolean;
  /** Files the install needs besides package.json and the lockfile (.npmrc …) that the commit has. */
  installFiles: string[];
  /** Served by the static server after its build (a build script, no start script, no Procfile). */
  static: boolean;
}

export interface StaticApp {
  kind: 'static';
}

export interface PythonApp {
  kind: 'python';
  install: 'requirements.txt' | 'pyproject.toml';
  python?: VersionRequest;
}

/** A Procfile and nothing the stack installs: its commands run on the stack as they are. */
export interface PlainApp {
  kind: 'plain';
}

/** Markers of languages the stack does not build, for the refusal's sentence. */
const OTHERS: readonly [string, string][] = [
  ['Gemfile', 'Ruby'],
  ['go.mod', 'Go'],
  ['composer.json', 'PHP'],
  ['pom.xml', 'Java'],
  ['build.gradle', 'Java'],
  ['build.gradle.kts', 'Kotlin'],
  ['Cargo.toml', 'Rust'],
  ['mix.exs', 'Elixir'],
  ['Pipfile', 'Python (Pipenv)'],
  ['deno.json', 'Deno'],
];

const SUPPORTED = 'the stack builds Node (package.json), Python (requirements.txt or pyproject.toml) and static sites (index.html)';

/** The directories a static site's build may write, in the order the static server looks. */
export const STATIC_ROOTS = ['dist', 'build', 'public'] as const;

export async function detectApp(entries: ReadonlySet<string>, read: (file: string) => Promise<string>): Promise<AppKind> {
  if (entries.has('Dockerfile')) return { kind: 'dockerfile' };
  const other = OTHERS.find(([file]) => entries.has(file));
  if (entries.has('package.json')) return detectNode(entries, read);
  if (other !== undefined) {
    throw new BuildRefusedError(
      `Found a ${other[0]} (${other[1]}) and no package.json, requirements.txt or pyproject.toml: ${SUPPORTED}; add a Dockerfile to build anything else`,
    );
  }
  if (entries.has('requirements.txt') || entries.has('pyproject.toml')) {
    return {
      kind: 'python',
      install: entries.has('requirements.txt') ? 'requirements.txt' : 'pyproject.toml',
      python: await pythonRequest(entries, read),
    };
  }
  if (entries.has('index.html')) return { kind: 'static' };
  if (entries.has('Procfile')) return { kind: 'plain' };
  throw new BuildRefusedError(
    `Found no Dockerfile, package.json, requirements.txt, pyproject.toml or index.html at the root of the commit: ${SUPPORTED}; add a Dockerfile to build anything else`,
  );
}

async function detectNode(entries: ReadonlySet<string>, read: (file: string) => Promise<string>): Promise<NodeApp> {
  let pkg: unknown;
  try {
    pkg = JSON.parse(await read('package.json'));
  } catch (error) {
    throw new BuildRefusedError(`package.json is not valid JSON (${error instanceof Error ? error.message : String(error)}); fix it and push again`);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) throw new BuildRefusedError('package.json is not a JSON object; fix it and push again');
  const json = pkg as Record<string, unknown>;
  const engines = objectField(json, 'engines');
  const scripts = objectField(json, 'scripts');
  const hasScript = (name: string): boolean => typeof scripts[name] === 'string' && (scripts[name] as string).trim() !== '';

  let node = engineRequest(engines, 'node');
  for (const file of ['.nvmrc', '.node-version']) {
    if (node === undefined && entries.has(file)) {
      const text = (await read(file)).trim();
      if (text !== '') node = { range: text, from: file };
    }
  }
  const scriptsFound = { build: hasScript('build'), start: hasScript('start') };
  return {
    kind: 'node',
    node,
    npm: engineRequest(engines, 'npm'),
    manager: packageManager(entries, json.packageManager),
    scripts: scriptsFound,
    devDependencies: Object.keys(objectField(json, 'devDependencies')).length > 0,
    installFiles: ['.npmrc', '.yarnrc', '.yarnrc.yml', 'pnpm-workspace.yaml'].filter((f) => entries.has(f)),
    static: scriptsFound.build && !scriptsFound.start && !entries.has('Procfile'),
  };
}

function engineRequest(engines: Record<string, unknown>, name: string): VersionRequest | undefined {
  const value = engines[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new BuildRefusedError(`package.json: engines.${name} is ${JSON.stringify(value)}, not a version range; write one such as "22.x"`);
  }
  return { range: value, from: `engines.${name}` };
}

function packageManager(entries: ReadonlySet<string>, field: unknown): PackageManager {
  // `packageManager` is "name@version", optionally followed by "+sha512.…" (corepack's checksum).
  const named = typeof field === 'string' ? /^(npm|yarn|pnpm)@([^+\s]+)/.exec(field.trim()) : null;
  const byLock: PackageManager | undefined = entries.has('pnpm-lock.yaml')
    ? { name: 'pnpm', lockfile: 'pnpm-lock.yaml' }
    : entries.has('yarn.lock')
      ? { name: 'yarn', lockfile: 'yarn.lock' }
      : entries.has('package-lock.json')
        ? { name: 'npm', lockfile: 'package-lock.json' }
        : entries.has('npm-shrinkwrap.json')
          ? { name: 'npm', lockfile: 'npm-shrinkwrap.json' }
          : undefined;
  const manager = byLock ?? { name: (named?.[1] as PackageManager['name'] | undefined) ?? 'npm' };
  if (named !== null && named[1] === manager.name) manager.version = named[2];
  return manager;
}

async function pythonRequest(entries: ReadonlySet<string>, read: (file: string) => Promise<string>): Promise<VersionRequest | undefined> {
  if (entries.has('.python-version')) {
    const text = (await read('.python-version')).split('\n')[0]!.trim();
    if (text !== '') return { range: text, from: '.python-version' };
  }
  if (entries.has('runtime.txt')) {
    const text = (await read('runtime.txt')).trim();
    if (text !== '') return { range: text.replace(/^python-/, ''), from: 'runtime.txt' };
  }
  return undefined;
}

function objectField(json: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = json[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A Python request against the stack's Python: "3.13" and "3.13.5" match 3.13.5; "3" matches any 3. */
export function pythonMatches(request: string, stack: string): boolean {
  const want = request.trim().split('.');
  const have = stack.split('.');
  return want.length > 0 && want.every((part, i) => part === have[i]);
}
