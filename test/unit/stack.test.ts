import { detectApp, pythonMatches, type NodeApp } from '../../src/build/detect.js';
import { BuildRefusedError } from '../../src/build/errors.js';
import { inferProcesses, nodePlan, pythonPlan, STATIC_SERVER, staticPlan, toolPackage } from '../../src/build/plan.js';
import { readableFailure } from '../../src/build/builder.js';
import { BuildFailedError } from '../../src/runtime/runtime.js';
import { baseDockerfile } from '../../src/build/toolchain.js';
import { ltsSince, newestLts, resolveNode, resolveNpm } from '../../src/build/versions.js';

const NODES = ['18.20.8', '20.19.5', '22.23.3', '22.23.5', '23.11.1', '24.22.3', '26.0.0', '26.12.1', '27.0.0-rc.1'];
const NOV_2025 = new Date('2025-11-15T00:00:00Z');
const NOV_2026 = new Date('2026-11-29T00:00:00Z');

function files(map: Record<string, string>): [Set<string>, (file: string) => Promise<string>] {
  return [new Set(Object.keys(map)), async (file) => map[file]!];
}

async function detect(map: Record<string, string>) {
  return detectApp(...files(map));
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BuildRefusedError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('resolveNode', () => {
  test('engines.node: the newest release that satisfies it, and why', () => {
    expect(resolveNode({ range: '22.x', from: 'engines.node' }, NODES, NOV_2026)).toEqual({ version: '22.23.5', why: 'engines.node "22.x"' });
    expect(resolveNode({ range: '>=20 <24', from: 'engines.node' }, NODES, NOV_2026).version).toBe('23.11.1');
  });

  test('.nvmrc forms: a bare major, a v prefix, lts/*, lts/<name>, node', () => {
    expect(resolveNode({ range: '24\n', from: '.nvmrc' }, NODES, NOV_2026).version).toBe('24.22.3');
    expect(resolveNode({ range: 'v22.23.3', from: '.node-version' }, NODES, NOV_2026).version).toBe('22.23.3');
    expect(resolveNode({ range: 'lts/*', from: '.nvmrc' }, NODES, NOV_2025).version).toBe('24.22.3');
    expect(resolveNode({ range: 'lts/jod', from: '.nvmrc' }, NODES, NOV_2026).version).toBe('22.23.5');
    expect(resolveNode({ range: 'node', from: '.nvmrc' }, NODES, NOV_2026).version).toBe('26.12.1');
  });

  test('no request: the newest release of the newest even major past its Active LTS date (never a pre-release)', () => {
    expect(resolveNode(undefined, NODES, NOV_2025)).toEqual({
      version: '24.22.3',
      why: 'no engines.node, .nvmrc or .node-version: the newest Active LTS, 24',
    });
    expect(resolveNode(undefined, NODES, NOV_2026).version).toBe('26.12.1');
    // Node 26 is out in June 2026, but is not LTS until late October.
    expect(newestLts(NODES, new Date('2026-06-01T00:00:00Z'))).toBe('24.22.3');
  });

  test('LTS dates: the published ones, and the schedule (November 1st of the release year) beyond them', () => {
    expect(ltsSince(22)?.toISOString()).toBe('2024-10-29T00:00:00.000Z');
    expect(ltsSince(28)?.toISOString()).toBe('2027-11-01T00:00:00.000Z');
    expect(ltsSince(25)).toBeUndefined();
  });

  test('a range no release meets names the range and the newest release', () => {
    expect(() => resolveNode({ range: '>=99', from: 'engines.node' }, NODES, NOV_2026)).toThrow(
      new BuildRefusedError('engines.node ">=99" matches no Node release (the newest is 26.12.1); change it, for example to "26.x"'),
    );
    expect(() => resolveNode({ range: 'banana', from: '.nvmrc' }, NODES, NOV_2026)).toThrow(/\.nvmrc "banana" is not a Node version range/);
  });
});

describe('resolveNpm', () => {
  const NPMS = [
    { version: '9.9.4', node: '^14.17.0 || ^16.13.0 || >=18.0.0' },
    { version: '10.9.4', node: '^18.17.0 || >=20.5.0' },
    { version: '11.6.2', node: '^20.17.0 || >=22.9.0' },
    { version: '12.0.0-pre.1', node: '>=22' },
  ];

  test('without engines.npm: the newest release that supports the chosen Node', () => {
    expect(resolveNpm(undefined, NPMS, '22.23.5')).toEqual({ version: '11.6.2', why: 'the newest npm for Node 22' });
    expect(resolveNpm(undefined, NPMS, '18.20.8').version).toBe('10.9.4');
  });

  test('engines.npm picks within its range; none matching is refused with the newest', () => {
    expect(resolveNpm({ range: '10.x', from: 'engines.npm' }, NPMS, '22.23.5')).toEqual({ version: '10.9.4', why: 'engines.npm "10.x"' });
    expect(() => resolveNpm({ range: '^4', from: 'engines.npm' }, NPMS, '22.23.5')).toThrow(
      /engines\.npm "\^4" matches no npm release \(the newest is 11\.6\.2\)/,
    );
  });
});

describe('detectApp', () => {
  test('a Dockerfile wins over everything', async () => {
    expect(await detect({ Dockerfile: 'FROM x', 'package.json': '{}', Gemfile: '' })).toEqual({ kind: 'dockerfile' });
  });

  test('package.json: versions from engines, then .nvmrc, then .node-version; the lockfile picks the tool', async () => {
    const app = (await detect({
      'package.json': JSON.stringify({ engines: { node: '22.x', npm: '10.x' }, scripts: { start: 'node .' }, devDependencies: { x: '1' } }),
      'package-lock.json': '{}',
      '.nvmrc': '24',
      '.npmrc': '',
    })) as NodeApp;
    expect(app).toEqual({
      kind: 'node',
      node: { range: '22.x', from: 'engines.node' },
      npm: { range: '10.x', from: 'engines.npm' },
      manager: { name: 'npm', lockfile: 'package-lock.json' },
      scripts: { build: false, start: true },
      devDependencies: true,
      installFiles: ['.npmrc'],
      static: false,
    });
    expect(((await detect({ 'package.json': '{}', '.nvmrc': 'v24\n', '.node-version': '22' })) as NodeApp).node).toEqual({ range: 'v24', from: '.nvmrc' });
    expect(((await detect({ 'package.json': '{}', '.node-version': '22' })) as NodeApp).node).toEqual({ range: '22', from: '.node-version' });
  });

  test('yarn.lock and pnpm-lock.yaml, with the version packageManager names (its checksum dropped)', async () => {
    const pnpm = (await detect({ 'package.json': JSON.stringify({ packageManager: 'pnpm@9.12.0+sha512.abc' }), 'pnpm-lock.yaml': '' })) as NodeApp;
    expect(pnpm.manager).toEqual({ name: 'pnpm', lockfile: 'pnpm-lock.yaml', version: '9.12.0' });
    expect(toolPackage(pnpm)).toBe('pnpm@9.12.0');
    const yarn = (await detect({ 'package.json': '{}', 'yarn.lock': '' })) as NodeApp;
    expect(yarn.manager).toEqual({ name: 'yarn', lockfile: 'yarn.lock' });
    expect(toolPackage(yarn)).toBe('yarn@1');
    const berry = (await detect({ 'package.json': JSON.stringify({ packageManager: 'yarn@4.5.0' }), 'yarn.lock': '' })) as NodeApp;
    expect(toolPackage(berry)).toBe('@yarnpkg/cli-dist@4.5.0');
  });

  test('a build script and no start script (and no Procfile) is a static site; with a Procfile it is not', async () => {
    const pkg = JSON.stringify({ scripts: { build: 'vite build' } });
    expect(((await detect({ 'package.json': pkg })) as NodeApp).static).toBe(true);
    expect(((await detect({ 'package.json': pkg, Procfile: 'web: x' })) as NodeApp).static).toBe(false);
  });

  test('index.html without package.json is static; requirements.txt or pyproject.toml is Python, with its version request', async () => {
    expect(await detect({ 'index.html': '' })).toEqual({ kind: 'static' });
    expect(await detect({ 'requirements.txt': '', '.python-version': '3.13\n', 'index.html': '' })).toEqual({
      kind: 'python',
      install: 'requirements.txt',
      python: { range: '3.13', from: '.python-version' },
    });
    expect(await detect({ 'pyproject.toml': '', 'runtime.txt': 'python-3.12.1\n' })).toEqual({
      kind: 'python',
      install: 'pyproject.toml',
      python: { range: '3.12.1', from: 'runtime.txt' },
    });
  });

  test('a Procfile alone runs on the stack; anything else is refused in one sentence', async () => {
    expect(await detect({ Procfile: 'web: ./serve' })).toEqual({ kind: 'plain' });
    expect(await refusal(detect({ Gemfile: '', 'config.ru': '', Procfile: 'web: rackup' }))).toBe(
      'Found a Gemfile (Ruby) and no package.json, requirements.txt or pyproject.toml: the stack builds Node (package.json), Python (requirements.txt or pyproject.toml) and static sites (index.html); add a Dockerfile to build anything else',
    );
    expect(await refusal(detect({ 'go.mod': '' }))).toMatch(/^Found a go\.mod \(Go\)/);
    expect(await refusal(detect({ 'README.md': '' }))).toMatch(/^Found no Dockerfile, package\.json, requirements\.txt, pyproject\.toml or index\.html/);
  });

  test('a package.json that does not parse, or a non-string engines.node, is refused saying what to fix', async () => {
    expect(await refusal(detect({ 'package.json': '{ nope' }))).toMatch(/^package\.json is not valid JSON \(.+\); fix it and push again$/);
    expect(await refusal(detect({ 'package.json': JSON.stringify({ engines: { node: 22 } }) }))).toBe(
      'package.json: engines.node is 22, not a version range; write one such as "22.x"',
    );
  });

  test('pythonMatches: a request matches the stack when every part it gives agrees', () => {
    expect(pythonMatches('3.13', '3.13.5')).toBe(true);
    expect(pythonMatches('3', '3.13.5')).toBe(true);
    expect(pythonMatches('3.13.5', '3.13.5')).toBe(true);
    expect(pythonMatches('3.12', '3.13.5')).toBe(false);
    expect(pythonMatches('3.1', '3.13.5')).toBe(false);
  });
});

describe('plans', () => {
  const npmApp: NodeApp = {
    kind: 'node',
    manager: { name: 'npm', lockfile: 'package-lock.json' },
    scripts: { build: true, start: true },
    devDependencies: true,
    installFiles: ['.npmrc'],
    static: false,
  };

  test('Node: dependencies install from the manifest alone, before the source and SOURCE_VERSION, with a per-app cache mount', () => {
    const plan = nodePlan('slipway/node:22.23.5-npm11.6.2-abc', 'shop', npmApp);
    const lines = plan.dockerfile.split('\n');
    expect(lines).toEqual([
      'FROM slipway/node:22.23.5-npm11.6.2-abc',
      'WORKDIR /app',
      'ARG npm_config_registry',
      'ENV npm_config_update_notifier=false',
      'COPY package.json package-lock.json .npmrc ./',
      'RUN --mount=type=cache,id=slipway-shop-npm,target=/root/.npm,sharing=locked npm ci --no-audit --no-fund --prefer-offline',
      'COPY . .',
      'ARG SOURCE_VERSION',
      'RUN npm run build',
      'RUN npm prune --omit=dev --no-audit --no-fund',
      '',
    ]);
    expect(plan.steps.map((s) => s.name)).toEqual(['npm ci (package-lock.json)', 'npm run build', 'npm prune --omit=dev (devDependencies are for the build)']);
    // Every step's marker is in exactly one line of the Dockerfile.
    for (const step of plan.steps) expect(lines.filter((l) => l.includes(step.marker))).toHaveLength(1);
  });

  test('pnpm and yarn install their tool with npm first, then from their lockfile with their own cache', () => {
    const pnpm = nodePlan('base', 'a', { ...npmApp, manager: { name: 'pnpm', lockfile: 'pnpm-lock.yaml', version: '9.12.0' }, installFiles: [] });
    expect(pnpm.dockerfile).toContain(
      'RUN --mount=type=cache,id=slipway-a-npm,target=/root/.npm,sharing=locked npm install --global --no-audit --no-fund pnpm@9.12.0\n',
    );
    expect(pnpm.dockerfile).toContain('COPY package.json pnpm-lock.yaml ./\n');
    expect(pnpm.dockerfile).toContain('npm_config_store_dir=/root/.cache/slipway-pnpm-store pnpm install --frozen-lockfile\n');
    expect(pnpm.dockerfile).toContain('RUN pnpm run build\n');
    expect(pnpm.dockerfile).not.toContain('prune');
    expect(pnpm.steps.map((s) => s.name)).toEqual(['pnpm 9.12.0 (packageManager "pnpm@9.12.0")', 'pnpm install (pnpm-lock.yaml)', 'pnpm run build']);
    const yarn = nodePlan('base', 'a', { ...npmApp, manager: { name: 'yarn', lockfile: 'yarn.lock' }, installFiles: [] });
    expect(yarn.dockerfile).toContain('npm install --global --no-audit --no-fund yarn@1\n');
    expect(yarn.dockerfile).toContain('yarn install --frozen-lockfile --non-interactive\n');
  });

  test('a static build checks for its output and carries the static server', () => {
    const plan = nodePlan('base', 'site', { ...npmApp, scripts: { build: true, start: false }, static: true });
    expect(plan.dockerfile).toContain(`COPY .slipway-static.mjs ${STATIC_SERVER}\n`);
    expect(plan.dockerfile).toContain(`RUN node ${STATIC_SERVER} --check dist build public\n`);
    expect(staticPlan('base').dockerfile).toBe(
      [
        'FROM base',
        'WORKDIR /app',
        `COPY .slipway-static.mjs ${STATIC_SERVER}`,
        'COPY . .',
        'ARG SOURCE_VERSION',
        `RUN node ${STATIC_SERVER} --check .`,
        '',
      ].join('\n'),
    );
  });

  test('processes inferred without a Procfile, and from what', () => {
    expect(inferProcesses(npmApp)).toEqual({ procfile: 'web: npm start\n', from: "package.json's start script" });
    expect(inferProcesses({ ...npmApp, scripts: { build: false, start: false } })).toBeUndefined();
    expect(inferProcesses({ kind: 'static' })?.procfile).toBe(`web: node ${STATIC_SERVER} .\n`);
    expect(inferProcesses({ kind: 'python' })).toBeUndefined();
  });

  test('Python: a venv, requirements before the source unless they point into it', () => {
    const python = { kind: 'python', install: 'requirements.txt' } as const;
    const plan = pythonPlan('stack', 'py', python, 'flask==3\n', '3.13.5', "the stack's");
    expect(plan.dockerfile.indexOf('COPY requirements.txt ./')).toBeLessThan(plan.dockerfile.indexOf('COPY . .'));
    expect(plan.dockerfile).toContain('RUN --mount=type=cache,id=slipway-py-pip,target=/root/.cache/pip,sharing=locked pip install -r requirements.txt\n');
    expect(plan.steps.map((s) => s.name)).toEqual(["Python 3.13.5 (the stack's)", 'pip install -r requirements.txt (requirements.txt)']);
    const local = pythonPlan('stack', 'py', python, '--find-links wheels\ntiny\n', '3.13.5', "the stack's");
    expect(local.dockerfile).not.toContain('COPY requirements.txt');
    expect(pythonPlan('stack', 'py', python, '--find-links http://127.0.0.1:9/\n', '3.13.5', 'x').dockerfile).toContain('COPY requirements.txt');
  });

  test("the base image lays Node's files and npm over the stack from bind-mounted tarballs", () => {
    const dockerfile = baseDockerfile('slipway/stack:trixie');
    expect(dockerfile.startsWith('FROM slipway/stack:trixie\nRUN --mount=type=bind,source=node.tgz')).toBe(true);
    expect(dockerfile).toContain('ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt');
  });

  test("an engine's step failure becomes the step's name; other failures pass as they are", () => {
    const plan = nodePlan('base', 'a', npmApp);
    const failure = readableFailure(
      new BuildFailedError('process "/bin/sh -c npm ci --no-audit --no-fund --prefer-offline" did not complete successfully: exit code: 1'),
      plan,
    );
    expect(failure).toBeInstanceOf(BuildRefusedError);
    expect((failure as Error).message).toBe('npm ci (package-lock.json) failed with exit code 1; its output is above');
    // Docker 20.10's BuildKit words it differently; the step is found the same way.
    const old = readableFailure(new BuildFailedError('executor failed running [/bin/sh -c npm run build]: exit code: 2'), plan);
    expect((old as Error).message).toBe('npm run build failed with exit code 2; its output is above');
    const other = new BuildFailedError('no space left on device');
    expect(readableFailure(other, plan)).toBe(other);
  });
});
