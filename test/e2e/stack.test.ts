import { cpSync } from 'node:fs';
import path from 'node:path';
import { TestApp } from '../support/app.js';
import { appContainers, removeApp } from '../support/docker.js';
import { getApp } from '../support/http.js';
import { ROOT, startServer, type TestServer } from '../support/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await removeApp('stack-hello');
});

test('the bundled example app (no Dockerfile) builds on the stack image, runs its hook and serves', async () => {
  const app = new TestApp({});
  try {
    cpSync(path.join(ROOT, 'examples/hello'), app.dir, { recursive: true });
    const sha = await app.commit('hello');
    const result = await app.push(server.remote('stack-hello'));
    expect(result.exitCode).toBe(0);
    const text = result.remote.join('\n');
    expect(text).toContain('-----> Building image with stack image slipway/stack:bookworm');
    expect(text).toContain('build: wrote build/info.json');
    expect(text).toContain('applying 001_create_visits ... done');
    expect(text).toContain('migrations complete');
    const page = await getApp(server.routerPort, 'stack-hello');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Hello from stack-hello on Slipway!');
    expect(page.body).toContain(`version:   ${sha}`);
    expect(await appContainers('stack-hello')).toEqual(['slipway-stack-hello-1-web-1']);
  } finally {
    app.remove();
  }
}, 300_000);
