import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { TestApp } from '../support/app.js';
import { appContainers, removeApp } from '../support/docker.js';
import { getApp } from '../support/http.js';
import { ROOT, startServer, type TestServer } from '../support/server.js';

// The server under test picks up SLIPWAY_STACK_IMAGE from the environment, as in production.
const STACK_IMAGE = process.env.SLIPWAY_STACK_IMAGE ?? 'slipway/stack:bookworm';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await removeApp('stack-hello');
  await removeApp('stack-engines');
}, 60_000);

test('the bundled example app (no Dockerfile) builds on the stack image, migrates its database on /data in its hook and serves it', async () => {
  expect((await server.api('POST', '/api/apps', { name: 'stack-hello' })).status).toBe(201);
  expect((await server.api('POST', '/api/apps/stack-hello/storage', { path: '/data' })).status).toBe(201);

  const app = new TestApp({});
  try {
    cpSync(path.join(ROOT, 'examples/hello'), app.dir, { recursive: true });
    // A developer's local install must not end up in the pushed repository.
    expect(existsSync(path.join(app.dir, '.gitignore'))).toBe(true);
    const first = await app.commit('hello');
    const result = await app.push(server.remote('stack-hello'));
    const text = result.remote.join('\n');
    // On failure, show what the server said rather than only the exit code.
    expect(result.exitCode === 0 ? 'pushed' : text).toBe('pushed');
    expect(text).toContain(`-----> Building image with stack image ${STACK_IMAGE}`);
    expect(text).toContain('build: wrote build/info.json');
    expect(text).toContain('Creating /data/hello.db');
    expect(text).toContain('applying 001_create_releases ... done');
    expect(text).toContain('applying 002_index_releases_commit ... done');
    expect(text).toContain('migrations complete: 2 applied, 0 already applied, schema at 002_index_releases_commit');
    expect(text).toContain(`recorded release ${first.slice(0, 7)}: 1 release(s) in /data/hello.db`);

    let page = await getApp(server.routerPort, 'stack-hello');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Hello from stack-hello on Slipway!');
    expect(page.body).toContain(`version:   ${first}`);
    expect(page.body).toContain('schema:    002_index_releases_commit');
    expect(page.body).toContain('releases:  1\n');
    expect(page.body).toContain(`latest:    ${first} (`);
    expect(await appContainers('stack-hello')).toEqual(['slipway-stack-hello-1-web-1']);

    // A second deploy finds the database the first one left on the volume.
    const second = await app.commit('docs', { 'README.md': '# hello, deployed twice\n' });
    const again = await app.push(server.remote('stack-hello'));
    const againText = again.remote.join('\n');
    expect(again.exitCode === 0 ? 'pushed' : againText).toBe('pushed');
    expect(againText).toContain('Opened /data/hello.db');
    expect(againText).toContain('001_create_releases ... already applied');
    expect(againText).toContain('002_index_releases_commit ... already applied');
    expect(againText).not.toContain('applying 0');
    expect(againText).toContain('migrations complete: 0 applied, 2 already applied, schema at 002_index_releases_commit');
    expect(againText).toContain(`recorded release ${second.slice(0, 7)}: 2 release(s) in /data/hello.db`);

    page = await getApp(server.routerPort, 'stack-hello');
    expect(page.status).toBe(200);
    expect(page.body).toContain(`version:   ${second}`);
    expect(page.body).toContain('schema:    002_index_releases_commit');
    expect(page.body).toContain('releases:  2\n');
    expect(page.body).toContain(`latest:    ${second} (`);
    expect(await appContainers('stack-hello')).toEqual(['slipway-stack-hello-2-web-1']);
  } finally {
    app.remove();
  }
}, 420_000);

test("package.json's engines.node is honoured: a Node the stack does not have stops the build, saying what to change", async () => {
  const files = (node: string): Record<string, string> => ({
    'package.json': JSON.stringify({ name: 'engines', version: '1.0.0', engines: { node } }),
    'server.js': "require('http').createServer((q, s) => s.end('engines ok\\n')).listen(process.env.PORT);",
    Procfile: 'web: node server.js\n',
  });
  const app = new TestApp(files('99.x'));
  try {
    await app.commit('too new');
    const refused = await app.push(server.remote('stack-engines'));
    const text = refused.remote.join('\n');
    expect(refused.exitCode).not.toBe(0);
    expect(text).toMatch(/package\.json asks for Node 99\.x, but the stack runs Node v\d+\.\d+\.\d+: accept it in engines\.node \(e\.g\. "\d+\.x"\), or add a Dockerfile FROM the Node you need/);
    expect(text).toContain('build-error');
    expect(await appContainers('stack-engines')).toEqual([]);

    const major = /the stack runs Node v(\d+)\./.exec(text)![1]!;
    await app.commit('accepted', files(`>=${major}`));
    const pushed = await app.push(server.remote('stack-engines'));
    expect(pushed.exitCode === 0 ? 'pushed' : pushed.remote.join('\n')).toBe('pushed');
    expect(pushed.remote.join('\n')).toMatch(new RegExp(`Node v${major}\\.\\d+\\.\\d+ meets engines\\.node >=${major}`));
    expect((await getApp(server.routerPort, 'stack-engines')).body).toBe('engines ok\n');
  } finally {
    app.remove();
  }
}, 180_000);
