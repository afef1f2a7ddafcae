/** The Dockerfile used when an app brings none: the commit on top of the stack image. */

/**
 * package.json's `engines.node` against the stack's Node, before anything is installed — Heroku,
 * Scalingo and Dokku honour it. The stack has one Node, so a range it does not meet stops the
 * build, saying what to change. It uses the semver module Debian's npm brings; a stack image
 * without one skips the check.
 */
const CHECK_NODE_ENGINE = [
  // A package.json that does not parse is npm's to report, in the next step.
  'let pkg; try { pkg = require("./package.json"); } catch { pkg = {}; }',
  'const want = ((pkg && pkg.engines) || {}).node;',
  'let semver; try { semver = require("semver"); } catch { semver = undefined; }',
  'if (want != null && semver) {',
  'if (typeof want !== "string" || !semver.validRange(want)) {',
  'console.error(`package.json: engines.node ${JSON.stringify(want)} is not a version range; write one such as "${semver.major(process.version)}.x"`); process.exit(1);',
  '}',
  'if (!semver.satisfies(process.version, want)) {',
  'console.error(`package.json asks for Node ${want}, but the stack runs Node ${process.version}: accept it in engines.node (e.g. "${semver.major(process.version)}.x"), or add a Dockerfile FROM the Node you need`); process.exit(1);',
  '}',
  'console.log(`Node ${process.version} meets engines.node ${want}`);',
  '}',
].join(' ');

export const STACK_DOCKERFILE_NAME = '.slipway-stack.Dockerfile';

export function stackDockerfile(stackImage: string, entries: ReadonlySet<string>): string {
  const lines = [`FROM ${stackImage}`, 'ARG SOURCE_VERSION', 'WORKDIR /app'];
  if (entries.has('package.json')) {
    const install = entries.has('package-lock.json') ? 'npm ci' : 'npm install';
    lines.push(
      // Dependencies first, so a push that changes only code reuses the cached install layer.
      'COPY package*.json ./',
      `RUN ${JSON.stringify(['node', '-e', CHECK_NODE_ENGINE])}`,
      `RUN ${install} --no-audit --no-fund`,
      'COPY . .',
      'RUN npm run build --if-present && npm prune --omit=dev --no-audit --no-fund',
    );
  } else {
    lines.push('COPY . .');
  }
  return `${lines.join('\n')}\n`;
}
