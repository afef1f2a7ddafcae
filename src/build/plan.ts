import { STATIC_ROOTS, type NodeApp, type PythonApp } from './detect.js';

/** A generated Dockerfile, the readable names of its steps, and the processes it implies. */
export interface BuildPlan {
  dockerfile: string;
  steps: { marker: string; name: string }[];
}

export const STACK_DOCKERFILE_NAME = '.slipway-stack.Dockerfile';
/** The static server, added to the build context under this name, lives at STATIC_SERVER in the image. */
export const STATIC_SERVER_FILE = '.slipway-static.mjs';
export const STATIC_SERVER = '/slipway/static.mjs';

/** Processes an app gets without a Procfile, and what they were inferred from. */
export interface InferredProcesses {
  procfile: string;
  from: string;
}

export function inferProcesses(app: NodeApp | { kind: 'static' | 'python' | 'plain' | 'dockerfile' }): InferredProcesses | undefined {
  if (app.kind === 'static') return { procfile: `web: node ${STATIC_SERVER} .\n`, from: 'index.html: the static server' };
  if (app.kind !== 'node') return undefined;
  if (app.static) {
    return { procfile: `web: node ${STATIC_SERVER} ${STATIC_ROOTS.join(' ')}\n`, from: "package.json's build script and no start script: the static server" };
  }
  if (app.scripts.start) return { procfile: 'web: npm start\n', from: "package.json's start script" };
  return undefined;
}

/** The install command of each package manager, and where its download cache lives. */
function install(app: NodeApp): { command: string; cache: string; name: string } {
  const { manager } = app;
  if (manager.name === 'pnpm') {
    return {
      command: manager.lockfile ? 'pnpm install --frozen-lockfile' : 'pnpm install',
      cache: '/root/.cache/slipway-pnpm-store',
      name: `pnpm install${manager.lockfile ? ` (${manager.lockfile})` : ''}`,
    };
  }
  if (manager.name === 'yarn') {
    const berry = manager.version !== undefined && !manager.version.startsWith('1.');
    const frozen = berry ? '--immutable' : '--frozen-lockfile --non-interactive';
    return {
      command: manager.lockfile ? `yarn install ${frozen}` : 'yarn install',
      cache: '/root/.cache/slipway-yarn',
      name: `yarn install${manager.lockfile ? ` (${manager.lockfile})` : ''}`,
    };
  }
  return manager.lockfile
    ? { command: 'npm ci --no-audit --no-fund --prefer-offline', cache: '/root/.npm', name: `npm ci (${manager.lockfile})` }
    : { command: 'npm install --no-audit --no-fund --prefer-offline', cache: '/root/.npm', name: 'npm install (no package-lock.json)' };
}

/** The yarn or pnpm release to install with npm: the one `packageManager` names, else the usual one. */
export function toolPackage(app: NodeApp): string | undefined {
  const { manager } = app;
  if (manager.name === 'npm') return undefined;
  if (manager.name === 'pnpm') return `pnpm@${manager.version ?? 'latest'}`;
  // Yarn 2 and later ship on the registry as @yarnpkg/cli-dist; the `yarn` package is 1.x.
  if (manager.version !== undefined && !manager.version.startsWith('1.')) return `@yarnpkg/cli-dist@${manager.version}`;
  return `yarn@${manager.version ?? '1'}`;
}

/**
 * A Node app on its base image (stack + its Node + npm). Dependencies install from the manifest
 * and lockfile alone, before the source is copied and before SOURCE_VERSION is declared, so a
 * push that changes only code re-uses the installed layer; the package manager's download cache
 * is a BuildKit cache mount kept per app, so a changed lockfile downloads only what is new.
 */
export function nodePlan(base: string, app: string, node: NodeApp): BuildPlan {
  const steps: BuildPlan['steps'] = [];
  const mount = (id: string, target: string): string => `--mount=type=cache,id=slipway-${app}-${id},target=${target},sharing=locked`;
  const lines = [`FROM ${base}`, 'WORKDIR /app', 'ARG npm_config_registry', 'ENV npm_config_update_notifier=false'];
  const tool = toolPackage(node);
  if (tool !== undefined) {
    const command = `npm install --global --no-audit --no-fund ${tool}`;
    lines.push(`RUN ${mount('npm', '/root/.npm')} ${command}`);
    steps.push({
      marker: command,
      name: `${node.manager.name} ${tool.slice(tool.lastIndexOf('@') + 1)}${node.manager.version ? ` (packageManager "${node.manager.name}@${node.manager.version}")` : ''}`,
    });
  }
  const manifest = ['package.json', ...(node.manager.lockfile ? [node.manager.lockfile] : []), ...node.installFiles];
  lines.push(`COPY ${manifest.join(' ')} ./`);
  const { command, cache, name } = install(node);
  const env =
    node.manager.name === 'pnpm'
      ? `npm_config_store_dir=${cache} `
      : node.manager.name === 'yarn'
        ? `YARN_CACHE_FOLDER=${cache} YARN_GLOBAL_FOLDER=${cache}/global `
        : '';
  lines.push(`RUN ${mount(node.manager.name, cache)} ${env}${command}`);
  steps.push({ marker: command, name });
  if (node.static) lines.push(`COPY ${STATIC_SERVER_FILE} ${STATIC_SERVER}`);
  lines.push('COPY . .', 'ARG SOURCE_VERSION');
  if (node.scripts.build) {
    const build = node.manager.name === 'npm' ? 'npm run build' : `${node.manager.name} run build`;
    lines.push(`RUN ${build}`);
    steps.push({ marker: build, name: build });
  }
  if (node.static) {
    const check = `node ${STATIC_SERVER} --check ${STATIC_ROOTS.join(' ')}`;
    lines.push(`RUN ${check}`);
    steps.push({ marker: check, name: 'Static server' });
  } else if (node.devDependencies && node.manager.name === 'npm') {
    const prune = 'npm prune --omit=dev --no-audit --no-fund';
    lines.push(`RUN ${prune}`);
    steps.push({ marker: prune, name: 'npm prune --omit=dev (devDependencies are for the build)' });
  }
  return { dockerfile: `${lines.join('\n')}\n`, steps };
}

/** A site with index.html at its root and no package.json, served by the static server. */
export function staticPlan(base: string): BuildPlan {
  const check = `node ${STATIC_SERVER} --check .`;
  return {
    dockerfile: [`FROM ${base}`, 'WORKDIR /app', `COPY ${STATIC_SERVER_FILE} ${STATIC_SERVER}`, 'COPY . .', 'ARG SOURCE_VERSION', `RUN ${check}`, ''].join(
      '\n',
    ),
    steps: [{ marker: check, name: 'Static server' }],
  };
}

/** Lines of a requirements file that point into the repository, so the install needs the whole tree. */
const LOCAL_REFERENCE = /^\s*(-r|-c|-e|-f|--requirement|--constraint|--editable|--find-links)(\s*=\s*|\s+)(?![a-z][a-z0-9+.-]*:\/\/)\S|^\s*(\.{1,2}\/|file:)/im;

export const VENV = '/opt/venv';

/**
 * A Python app in a virtual environment made with the stack's Python. requirements.txt installs
 * before the source is copied (unless it points at files in the repository), with pip's
 * download cache kept per app.
 */
export function pythonPlan(stack: string, app: string, python: PythonApp, requirements: string, pythonVersion: string, why: string): BuildPlan {
  const mount = `--mount=type=cache,id=slipway-${app}-pip,target=/root/.cache/pip,sharing=locked`;
  const venv = `python3 -m venv ${VENV}`;
  const lines = [
    `FROM ${stack}`,
    'WORKDIR /app',
    `ENV VIRTUAL_ENV=${VENV} PATH=${VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1`,
    `RUN ${venv}`,
  ];
  const steps: BuildPlan['steps'] = [{ marker: venv, name: `Python ${pythonVersion} (${why})` }];
  const install = python.install === 'requirements.txt' ? 'pip install -r requirements.txt' : 'pip install .';
  if (python.install === 'requirements.txt' && !LOCAL_REFERENCE.test(requirements)) {
    lines.push('COPY requirements.txt ./', `RUN ${mount} ${install}`, 'COPY . .', 'ARG SOURCE_VERSION');
  } else {
    lines.push('COPY . .', 'ARG SOURCE_VERSION', `RUN ${mount} ${install}`);
  }
  steps.push({ marker: install, name: `${install} (${python.install})` });
  return { dockerfile: `${lines.join('\n')}\n`, steps };
}

/** A Procfile-only app: its source on the stack (with the LTS Node), its commands run as they are. */
export function plainPlan(base: string): BuildPlan {
  return { dockerfile: [`FROM ${base}`, 'WORKDIR /app', 'COPY . .', 'ARG SOURCE_VERSION', ''].join('\n'), steps: [] };
}
