import { STACK_DOCKERFILE_NAME, stackDockerfile } from '../../src/build/stack.js';

const IMAGE = 'slipway/stack:bookworm';

/** The line that checks package.json's engines.node, as the Dockerfile has it. */
const CHECK_ENGINES = stackDockerfile(IMAGE, new Set(['package.json'])).split('\n')[4]!;

describe('stackDockerfile', () => {
  test('package.json and package-lock.json: npm ci', () => {
    expect(stackDockerfile(IMAGE, new Set(['package.json', 'package-lock.json', 'server.js', 'Procfile']))).toBe(
      [
        'FROM slipway/stack:bookworm',
        'ARG SOURCE_VERSION',
        'WORKDIR /app',
        'COPY package*.json ./',
        CHECK_ENGINES,
        'RUN npm ci --no-audit --no-fund',
        'COPY . .',
        'RUN npm run build --if-present && npm prune --omit=dev --no-audit --no-fund',
        '',
      ].join('\n'),
    );
  });

  test('package.json without a lock file: npm install', () => {
    const dockerfile = stackDockerfile(IMAGE, new Set(['package.json', 'index.js']));
    expect(dockerfile).toBe(
      [
        'FROM slipway/stack:bookworm',
        'ARG SOURCE_VERSION',
        'WORKDIR /app',
        'COPY package*.json ./',
        CHECK_ENGINES,
        'RUN npm install --no-audit --no-fund',
        'COPY . .',
        'RUN npm run build --if-present && npm prune --omit=dev --no-audit --no-fund',
        '',
      ].join('\n'),
    );
    expect(dockerfile).not.toContain('npm ci');
  });

  test('no package.json: only copies the source', () => {
    const dockerfile = stackDockerfile(IMAGE, new Set(['Procfile', 'app.py', 'package-lock.json']));
    expect(dockerfile).toBe('FROM slipway/stack:bookworm\nARG SOURCE_VERSION\nWORKDIR /app\nCOPY . .\n');
    expect(dockerfile).not.toContain('npm');
  });

  test('an empty tree: only copies', () => {
    expect(stackDockerfile(IMAGE, new Set())).toBe('FROM slipway/stack:bookworm\nARG SOURCE_VERSION\nWORKDIR /app\nCOPY . .\n');
  });

  test.each([
    ['node:20-bookworm-slim', new Set<string>()],
    ['registry.example.com:5000/team/stack@sha256:abc', new Set(['package.json'])],
    ['my/stack', new Set(['package.json', 'package-lock.json'])],
  ])('always starts with FROM %s and ends with a newline', (image, entries) => {
    const dockerfile = stackDockerfile(image, entries);
    expect(dockerfile.split('\n')[0]).toBe(`FROM ${image}`);
    expect(dockerfile.endsWith('\n')).toBe(true);
    expect(dockerfile.endsWith('\n\n')).toBe(false);
  });

  test('the dependency install comes before the source is copied', () => {
    const lines = stackDockerfile(IMAGE, new Set(['package.json', 'package-lock.json'])).split('\n');
    expect(lines.indexOf('RUN npm ci --no-audit --no-fund')).toBeLessThan(lines.indexOf('COPY . .'));
    expect(lines.indexOf('COPY package*.json ./')).toBeLessThan(lines.indexOf('RUN npm ci --no-audit --no-fund'));
  });

  test('engines.node is checked by the stack\'s own Node, with the package.json alone, before the install', () => {
    expect(CHECK_ENGINES.startsWith('RUN ["node","-e","')).toBe(true);
    const [, , script] = JSON.parse(CHECK_ENGINES.slice('RUN '.length)) as string[];
    expect(script).toContain('require("./package.json")');
    expect(script).toContain('semver.satisfies(process.version, want)');
    expect(script).toContain('or add a Dockerfile FROM the Node you need');
    // The script is valid JavaScript.
    expect(() => new Function(script!)).not.toThrow();
  });

  test('the Dockerfile name is a hidden file', () => {
    expect(STACK_DOCKERFILE_NAME).toBe('.slipway-stack.Dockerfile');
  });
});
