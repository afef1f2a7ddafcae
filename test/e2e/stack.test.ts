import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestApp, type PushResult } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { getApp } from '../support/http.js';
import { ROOT, ServerSuite, type TestServer } from '../support/server.js';

// The server under test picks up SLIPWAY_STACK_IMAGE from the environment, as in production.
const STACK_IMAGE = process.env.SLIPWAY_STACK_IMAGE ?? 'slipway/stack:trixie';
const APPS = ['stack-hello', 'stack-engines', 'stack-sample', 'stack-yarn', 'stack-pnpm', 'stack-static', 'stack-spa', 'stack-python', 'stack-ruby'];
const suite = new ServerSuite(APPS);
let server: TestServer;

beforeAll(async () => {
  ({ server } = await suite.start());
  for (const name of APPS) expect((await server.api('POST', '/api/apps', { name })).status).toBe(201);
}, 60_000);

afterAll(() => suite.stop(), 120_000);

function text(result: PushResult): string {
  return result.remote.join('\n');
}

/** Fails with what the server said, not only the exit code. */
function expectPushed(result: PushResult): void {
  expect(result.exitCode === 0 ? 'pushed' : text(result)).toBe('pushed');
}

/** A web process that answers with the Node version it runs on. */
const VERSION_SERVER = "require('http').createServer((q, s) => s.end(process.version + '\\n')).listen(process.env.PORT);";

async function reason(app: string): Promise<string | null> {
  const list = (await server.api<{ reason: string | null }[]>('GET', `/api/apps/${app}/deployments`)).body;
  return list[0]!.reason;
}

test('the bundled example app (no Dockerfile) builds on the stack image, migrates its database on /data in its hook and serves it; a code-only push re-uses its installed dependencies', async () => {
  expect((await server.api('POST', '/api/apps/stack-hello/storage', { path: '/data' })).status).toBe(201);

  const app = new TestApp({});
  try {
    cpSync(path.join(ROOT, 'examples/hello'), app.dir, { recursive: true });
    // A developer's local install must not end up in the pushed repository.
    expect(existsSync(path.join(app.dir, '.gitignore'))).toBe(true);
    const first = await app.commit('hello');
    const result = await app.push(server.remote('stack-hello'));
    const out = text(result);
    expectPushed(result);
    expect(out).toContain(`-----> Building image with stack image ${STACK_IMAGE}`);
    expect(out).toMatch(/-----> Node \d+\.\d+\.\d+ \(no engines\.node, \.nvmrc or \.node-version: the newest Active LTS, \d+\)/);
    expect(out).toMatch(/-----> npm ci \(package-lock\.json\)/);
    expect(out).toContain('-----> npm run build');
    expect(out).toContain('build: wrote build/info.json');
    // The generated Dockerfile's instructions are not what the user reads.
    expect(out).not.toMatch(/RUN |COPY |--mount/);
    expect(out).toContain('Creating /data/hello.db');
    expect(out).toContain('applying 001_create_releases ... done');
    expect(out).toContain('applying 002_index_releases_commit ... done');
    expect(out).toContain('migrations complete: 2 applied, 0 already applied, schema at 002_index_releases_commit');
    expect(out).toContain(`recorded release ${first.slice(0, 7)}: 1 release(s) in /data/hello.db`);

    let page = await getApp(server.routerPort, 'stack-hello');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Hello from stack-hello on Slipway!');
    expect(page.body).toContain(`version:   ${first}`);
    expect(page.body).toContain('releases:  1\n');
    expect(await appContainers('stack-hello')).toEqual(['slipway-stack-hello-1-web-1']);

    // A code-only change: the install layer is re-used (SOURCE_VERSION is declared after it), and
    // the second deploy finds the database the first one left on the volume.
    const second = await app.commit('docs', { 'README.md': '# hello, deployed twice\n' });
    const again = await app.push(server.remote('stack-hello'));
    const againText = text(again);
    expectPushed(again);
    expect(againText).toContain('-----> npm ci (package-lock.json) (cached)');
    expect(againText).toContain('-----> npm run build\n');
    expect(againText).toContain('Opened /data/hello.db');
    expect(againText).toContain('migrations complete: 0 applied, 2 already applied, schema at 002_index_releases_commit');
    expect(againText).toContain(`recorded release ${second.slice(0, 7)}: 2 release(s) in /data/hello.db`);

    page = await getApp(server.routerPort, 'stack-hello');
    expect(page.body).toContain(`version:   ${second}`);
    expect(page.body).toContain('releases:  2\n');
    expect(await appContainers('stack-hello')).toEqual(['slipway-stack-hello-2-web-1']);
  } finally {
    app.remove();
  }
}, 600_000);

test('a range no Node release meets is a build-error naming the range and the newest release, recorded as the reason; the hint names the branch pushed', async () => {
  const app = new TestApp({
    'package.json': JSON.stringify({ name: 'engines', version: '1.0.0', engines: { node: '>=99' } }),
    'server.js': VERSION_SERVER,
    Procfile: 'web: node server.js\n',
  });
  try {
    await app.commit('too new');
    const refused = await app.push(server.remote('stack-engines'), 'main:master');
    const out = text(refused);
    expect(refused.exitCode).not.toBe(0);
    const sentence = /engines\.node ">=99" matches no Node release \(the newest is (\d+)\.\d+\.\d+\); change it, for example to "\1\.x"/;
    expect(out).toMatch(new RegExp(`^!     ${sentence.source}$`, 'm'));
    expect(out).toContain('Fix the problem and push again: git push deploy master');
    expect(out).toContain('build-error');
    expect(await reason('stack-engines')).toMatch(new RegExp(`^${sentence.source}$`));
    expect(await appContainers('stack-engines')).toEqual([]);
  } finally {
    app.remove();
  }
}, 120_000);

test("Heroku's node-js-sample layout (express, web: node index.js) with engines.node 22.x runs on Node 22, installed by the npm engines.npm asks for", async () => {
  const app = new TestApp({
    'package.json': JSON.stringify({
      name: 'node-js-sample',
      version: '0.2.0',
      main: 'index.js',
      scripts: { start: 'node index.js' },
      dependencies: { express: '^4.21.2' },
      engines: { node: '22.x', npm: '10.x' },
    }),
    'index.js': [
      "const express = require('express');",
      'const app = express();',
      "app.set('port', process.env.PORT || 5000);",
      "app.get('/', (request, response) => response.send(`Hello World on ${process.version}`));",
      "app.listen(app.get('port'), () => console.log('Node app is running at localhost:' + app.get('port')));",
    ].join('\n'),
    Procfile: 'web: node index.js\n',
  });
  try {
    await app.commit('sample');
    const pushed = await app.push(server.remote('stack-sample'));
    expectPushed(pushed);
    const out = text(pushed);
    const version = /-----> Node (22\.\d+\.\d+) \(engines\.node "22\.x"\)/.exec(out)?.[1];
    expect(version).toBeDefined();
    expect(out).toMatch(/-----> npm 10\.\d+\.\d+ \(engines\.npm "10\.x"\)/);
    expect(out).toContain('-----> npm install (no package-lock.json)');
    expect((await getApp(server.routerPort, 'stack-sample')).body).toBe(`Hello World on v${version}`);
  } finally {
    app.remove();
  }
}, 420_000);

const MS_INTEGRITY = 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==';

test('yarn.lock installs with yarn, on the Node .nvmrc asks for (24)', async () => {
  const app = new TestApp({
    'package.json': JSON.stringify({ name: 'y', version: '1.0.0', dependencies: { ms: '2.1.3' } }),
    'yarn.lock': [
      '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.',
      '# yarn lockfile v1',
      '',
      '',
      'ms@2.1.3:',
      '  version "2.1.3"',
      '  resolved "https://registry.yarnpkg.com/ms/-/ms-2.1.3.tgz#574c8138ce1d2b5861f0b44579dbadd60c6615b2"',
      `  integrity ${MS_INTEGRITY}`,
      '',
    ].join('\n'),
    '.nvmrc': '24\n',
    'server.js': "require('http').createServer((q, s) => s.end(`${process.version} ${require('ms')(60000)}\\n`)).listen(process.env.PORT);",
    Procfile: 'web: node server.js\n',
  });
  try {
    await app.commit('yarn');
    const pushed = await app.push(server.remote('stack-yarn'));
    expectPushed(pushed);
    const out = text(pushed);
    const version = /-----> Node (24\.\d+\.\d+) \(\.nvmrc "24"\)/.exec(out)?.[1];
    expect(version).toBeDefined();
    expect(out).toContain('-----> yarn install (yarn.lock)');
    expect((await getApp(server.routerPort, 'stack-yarn')).body).toBe(`v${version} 1m\n`);
  } finally {
    app.remove();
  }
}, 420_000);

test('pnpm-lock.yaml installs with the pnpm packageManager names; no Procfile and a start script run web: npm start on the newest LTS', async () => {
  const app = new TestApp({
    'package.json': JSON.stringify({
      name: 'p',
      version: '1.0.0',
      packageManager: 'pnpm@9.15.9',
      scripts: { start: 'node server.js' },
      dependencies: { ms: '2.1.3' },
    }),
    'pnpm-lock.yaml': [
      "lockfileVersion: '9.0'",
      '',
      'settings:',
      '  autoInstallPeers: true',
      '  excludeLinksFromLockfile: false',
      '',
      'importers:',
      '',
      '  .:',
      '    dependencies:',
      '      ms:',
      '        specifier: 2.1.3',
      '        version: 2.1.3',
      '',
      'packages:',
      '',
      '  ms@2.1.3:',
      `    resolution: {integrity: ${MS_INTEGRITY}}`,
      '',
      'snapshots:',
      '',
      '  ms@2.1.3: {}',
      '',
    ].join('\n'),
    'server.js': "require('http').createServer((q, s) => s.end(`${process.version} ${require('ms')(120000)}\\n`)).listen(process.env.PORT);",
  });
  try {
    await app.commit('pnpm');
    const pushed = await app.push(server.remote('stack-pnpm'));
    expectPushed(pushed);
    const out = text(pushed);
    expect(out).toContain("-----> No Procfile: web: npm start (from package.json's start script)");
    const lts = /-----> Node ((\d+)\.\d+\.\d+) \(no engines\.node, \.nvmrc or \.node-version: the newest Active LTS, (\d+)\)/.exec(out);
    expect(lts).not.toBeNull();
    expect(lts![2]).toBe(lts![3]);
    expect(Number(lts![2]) % 2).toBe(0);
    expect(out).toContain('-----> pnpm 9.15.9 (packageManager "pnpm@9.15.9")');
    expect(out).toContain('-----> pnpm install (pnpm-lock.yaml)');
    expect((await getApp(server.routerPort, 'stack-pnpm')).body).toBe(`v${lts![1]} 2m\n`);
  } finally {
    app.remove();
  }
}, 420_000);

function getWithHeaders(pathname: string, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.routerPort, path: pathname, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${pathname} timed out`)));
  });
}

test('a static site (index.html, no package.json) is served with types, long caching for hashed assets, and 404s', async () => {
  const app = new TestApp({
    'index.html': '<!doctype html><title>static</title><script src="/assets/app.4f3a9b2c.js"></script>\n',
    'assets/app.4f3a9b2c.js': 'console.log("hashed");\n',
    'about.txt': 'plain\n',
  });
  try {
    await app.commit('static');
    const pushed = await app.push(server.remote('stack-static'));
    expectPushed(pushed);
    const out = text(pushed);
    expect(out).toMatch(/-----> No Procfile: web: node \/slipway\/static\.mjs \. \(from index\.html: the static server\)/);
    expect(out).toMatch(/-----> Static site \(index\.html, no package\.json\): served by Slipway's static server on Node \d+\.\d+\.\d+, the newest Active LTS/);
    const host = 'stack-static.localhost';
    const home = await getWithHeaders('/', host);
    expect([home.status, home.headers['content-type'], home.body]).toEqual([
      200,
      'text/html; charset=utf-8',
      '<!doctype html><title>static</title><script src="/assets/app.4f3a9b2c.js"></script>\n',
    ]);
    expect(home.headers['cache-control']).toBe('no-cache');
    const asset = await getWithHeaders('/assets/app.4f3a9b2c.js', host);
    expect([asset.status, asset.headers['content-type'], asset.headers['cache-control']]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'public, max-age=31536000, immutable',
    ]);
    expect((await getWithHeaders('/missing.css', host)).status).toBe(404);
  } finally {
    app.remove();
  }
}, 420_000);

test('a package.json whose build writes dist/ and no start script is a static site; static.json turns on the single-page-app fallback', async () => {
  const app = new TestApp({
    'package.json': JSON.stringify({ name: 'spa', version: '1.0.0', scripts: { build: 'node build.js' } }),
    'build.js': "require('fs').mkdirSync('dist', { recursive: true }); require('fs').writeFileSync('dist/index.html', '<!doctype html><title>spa</title>\\n');",
    'static.json': JSON.stringify({ spa: true }),
  });
  try {
    await app.commit('spa');
    const pushed = await app.push(server.remote('stack-spa'));
    expectPushed(pushed);
    const out = text(pushed);
    expect(out).toContain(
      "-----> No Procfile: web: node /slipway/static.mjs dist build public (from package.json's build script and no start script: the static server)",
    );
    expect(out).toContain('-----> npm run build');
    expect(out).toContain('serving dist/ with the single-page-app fallback');
    const host = 'stack-spa.localhost';
    const route = await getWithHeaders('/users/42', host);
    expect([route.status, route.body]).toEqual([200, '<!doctype html><title>spa</title>\n']);
    expect((await getWithHeaders('/missing.js', host)).status).toBe(404);
  } finally {
    app.remove();
  }
}, 420_000);

/**
 * The Python package index is not reachable from these machines, so the app's one dependency is
 * a tiny pure-Python wheel this test builds, served from a local "find-links" page on 127.0.0.1
 * (builds use the host's network, so pip inside the build reaches it).
 */
async function wheelIndex(): Promise<{ url: string; requests: string[]; close: () => Promise<void>; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-wheels-'));
  const script = [
    'import base64, hashlib, sys, zipfile',
    'files = {',
    '  "tinypkg/__init__.py": "def greet():\\n    return \\"hello from tinypkg\\"\\n",',
    '  "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.0\\n",',
    '  "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: slipway-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",',
    '}',
    'record = []',
    'with zipfile.ZipFile(sys.argv[1], "w") as z:',
    '    for name, text in files.items():',
    '        data = text.encode()',
    '        z.writestr(name, data)',
    '        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()',
    '        record.append(f"{name},sha256={digest},{len(data)}")',
    '    record.append("tinypkg-1.0.dist-info/RECORD,,")',
    '    z.writestr("tinypkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")',
  ].join('\n');
  const wheel = 'tinypkg-1.0-py3-none-any.whl';
  await execa('python3', ['-c', script, path.join(dir, wheel)]);
  const requests: string[] = [];
  const index = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === `/${wheel}`) res.end(readFileSync(path.join(dir, wheel)));
    else res.setHeader('content-type', 'text/html').end(`<a href="${wheel}">${wheel}</a>\n`);
  });
  await new Promise<void>((resolve) => index.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(index.address() as AddressInfo).port}/`,
    requests,
    dir,
    close: () => new Promise((resolve) => index.close(() => resolve())),
  };
}

test("a Python web app installs its requirements.txt into a virtual environment with the stack's Python; an unavailable Python is refused", async () => {
  const index = await wheelIndex();
  const app = new TestApp({
    'requirements.txt': `--no-index\n--find-links ${index.url}\ntinypkg==1.0\n`,
    'app.py': [
      'import os, sys, tinypkg',
      'from http.server import BaseHTTPRequestHandler, HTTPServer',
      'class Handler(BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        body = f"{tinypkg.greet()} on Python {sys.version_info[0]}.{sys.version_info[1]}\\n".encode()',
      '        self.send_response(200)',
      '        self.send_header("Content-Length", str(len(body)))',
      '        self.end_headers()',
      '        self.wfile.write(body)',
      'HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()',
    ].join('\n'),
    '.python-version': '2.7\n',
  });
  try {
    await app.commit('no Procfile');
    const noProcfile = await app.push(server.remote('stack-python'));
    expect(noProcfile.exitCode).not.toBe(0);
    expect(text(noProcfile).split('\n')).toContain(
      '!     There is no Procfile at the root of the commit, and a Python app needs one; add one with a line such as "web: gunicorn app:app" or "web: python app.py" and push again',
    );

    await app.commit('old python', { Procfile: 'web: python app.py\n' });
    const refused = await app.push(server.remote('stack-python'));
    expect(refused.exitCode).not.toBe(0);
    const sentence =
      /\.python-version asks for Python 2\.7, but the stack has Python (3\.\d+)\.\d+ only: ask for \1, or add a Dockerfile FROM the Python you need/;
    expect(text(refused)).toMatch(sentence);
    const stackPython = sentence.exec(text(refused))![1]!;

    await app.commit('stack python', { '.python-version': `${stackPython}\n` });
    const pushed = await app.push(server.remote('stack-python'));
    expectPushed(pushed);
    const out = text(pushed);
    expect(out).toMatch(new RegExp(`-----> Python ${stackPython.replace('.', '\\.')}\\.\\d+ \\(\\.python-version "${stackPython.replace('.', '\\.')}"\\)`));
    expect(out).toContain('-----> pip install -r requirements.txt (requirements.txt)');
    expect(out).toContain('Successfully installed tinypkg-1.0');
    expect(index.requests).toContain('/tinypkg-1.0-py3-none-any.whl');
    expect((await getApp(server.routerPort, 'stack-python')).body).toBe(`hello from tinypkg on Python ${stackPython}\n`);
  } finally {
    app.remove();
    await index.close();
    rmSync(index.dir, { recursive: true, force: true });
  }
}, 420_000);

test('a Gemfile-only repository is refused in one sentence saying what is supported', async () => {
  const app = new TestApp({ Gemfile: "source 'https://rubygems.org'\ngem 'sinatra'\n", 'app.rb': "require 'sinatra'\n", Procfile: 'web: ruby app.rb\n' });
  try {
    await app.commit('ruby');
    const refused = await app.push(server.remote('stack-ruby'));
    expect(refused.exitCode).not.toBe(0);
    const sentence =
      'Found a Gemfile (Ruby) and no package.json, requirements.txt or pyproject.toml: the stack builds Node (package.json), Python (requirements.txt or pyproject.toml) and static sites (index.html); add a Dockerfile to build anything else';
    expect(text(refused).split('\n')).toContain(`!     ${sentence}`);
    expect(await reason('stack-ruby')).toBe(sentence);
  } finally {
    app.remove();
  }
}, 120_000);
