/** The Dockerfile used when an app brings none: the commit on top of the stack image. */

export const STACK_DOCKERFILE_NAME = '.slipway-stack.Dockerfile';

export function stackDockerfile(stackImage: string, entries: ReadonlySet<string>): string {
  const lines = [`FROM ${stackImage}`, 'ARG SOURCE_VERSION', 'WORKDIR /app'];
  if (entries.has('package.json')) {
    const install = entries.has('package-lock.json') ? 'npm ci' : 'npm install';
    lines.push(
      // Dependencies first, so a push that changes only code reuses the cached install layer.
      'COPY package*.json ./',
      `RUN ${install} --no-audit --no-fund`,
      'COPY . .',
      'RUN npm run build --if-present && npm prune --omit=dev --no-audit --no-fund',
    );
  } else {
    lines.push('COPY . .');
  }
  return `${lines.join('\n')}\n`;
}
