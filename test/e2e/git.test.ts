import { TestApp } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { ServerSuite, type TestServer } from '../support/server.js';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import path from 'node:path';

const NAME = 'git-app';
const SHALLOW = 'shallow-app';
const suite = new ServerSuite([NAME, 'master-app', SHALLOW]);
let server: TestServer;
let app: TestApp;

beforeAll(async () => {
  ({ server } = await suite.start());
  app = suite.app(busyboxApp({ web: WEB }));
  await app.commit('first');
  const first = await app.push(server.remote(NAME));
  if (first.exitCode !== 0) throw new Error(`the first push failed:\n${first.output}`);
}, 120_000);

afterAll(() => suite.stop(), 60_000);

async function deploymentCount(): Promise<number> {
  const res = await server.api<unknown[]>('GET', `/api/apps/${NAME}/deployments`);
  return res.body.length;
}

test('a push without a token is refused with 401 and creates nothing', async () => {
  const other = new TestApp(busyboxApp({ web: WEB }));
  try {
    await other.commit('anonymous');
    const result = await other.push(`http://127.0.0.1:${server.port}/anon-app.git`);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/could not read Username|Authentication failed/);
    expect((await server.api('GET', '/api/apps/anon-app')).status).toBe(404);
  } finally {
    other.remove();
  }
}, 180_000);

test('a push with a wrong token is refused', async () => {
  const result = await app.push(server.remote(NAME, 'not-the-token'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('Authentication failed');
}, 180_000);

test('the repository can be cloned with a token, not without', async () => {
  const anonymous = await execa('git', ['ls-remote', `http://127.0.0.1:${server.port}/${NAME}.git`], {
    reject: false,
    env: { GIT_TERMINAL_PROMPT: '0' },
  });
  expect(anonymous.exitCode).not.toBe(0);
  const withToken = await execa('git', ['ls-remote', server.remote(NAME)]);
  expect(withToken.stdout).toContain('refs/heads/main');
}, 60_000);

test('an invalid app name is refused with a message saying what names are allowed', async () => {
  const result = await app.push(`http://git:${server.token}@127.0.0.1:${server.port}/My_App.git`);
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('is not a valid app name');
}, 180_000);

test('another branch is refused with a reason that says how to deploy it', async () => {
  const before = await deploymentCount();
  const result = await app.push(server.remote(NAME), 'main:feature');
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> feature (only main and master deploy; run git push deploy HEAD:main)');
  expect(await deploymentCount()).toBe(before);
  const refs = await execa('git', ['ls-remote', server.remote(NAME)]);
  expect(refs.stdout).not.toContain('refs/heads/feature');
}, 180_000);

test('deleting main is refused', async () => {
  const result = await app.push(server.remote(NAME), ':main');
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main (deleting main is refused; push a commit instead)');
  expect(await getApp(server.routerPort, NAME, '/index.html')).toEqual({ status: 200, body: 'hello\n' });
}, 180_000);

test('a tag is accepted and not deployed', async () => {
  const before = await deploymentCount();
  await app.git('tag', 'v1.0');
  const result = await app.push(server.remote(NAME), 'v1.0');
  expect(result.exitCode).toBe(0);
  expect(result.output).toContain('[new tag]');
  expect(await deploymentCount()).toBe(before);
  const refs = await execa('git', ['ls-remote', server.remote(NAME)]);
  expect(refs.stdout).toContain('refs/tags/v1.0');
}, 180_000);

test('master deploys like main, for an app that deploys from master; an app deploys from one of them', async () => {
  const sha = await app.commit('on master', { 'index.html': 'from master\n' });
  const result = await app.push(server.remote('master-app'), 'main:master');
  expect(result.exitCode).toBe(0);
  expect(await getApp(server.routerPort, 'master-app', '/version.txt')).toEqual({ status: 200, body: `${sha}\n` });
  expect(await appContainers('master-app')).toHaveLength(1);
  // NAME deploys from main: its master is refused, so that main keeps naming what serves.
  const refused = await app.push(server.remote(NAME), 'main:master');
  expect(refused.exitCode).not.toBe(0);
  expect(refused.output).toContain(`${NAME} deploys from main, so master is not deployed; push to main: git push deploy master:main`);
}, 180_000);

test('a force push of an older commit rolls back to it', async () => {
  const older = await app.git('rev-parse', 'HEAD');
  const newer = await app.commit('newer', { 'index.html': 'newer\n' });
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${newer}\n` });
  const result = await app.push(server.remote(NAME), `${older}:refs/heads/main`, { args: ['--force'] });
  expect(result.exitCode).toBe(0);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${older}\n` });
}, 180_000);

/** A shallow clone (`git clone --depth 1`, as CI checkouts are) of `source`, as a TestApp to push from. */
async function shallowClone(source: TestApp): Promise<TestApp> {
  const clone = new TestApp({});
  await execa('git', ['clone', '--quiet', '--depth', '1', `file://${source.dir}`, clone.dir]);
  expect(await clone.git('rev-parse', '--is-shallow-repository')).toBe('true');
  return clone;
}

test('a shallow clone cannot create an app: it is told to unshallow, and nothing is left; a later shallow push lacking history is told the same', async () => {
  const source = new TestApp(busyboxApp({ web: WEB }));
  const clones: TestApp[] = [];
  try {
    await source.commit('one');
    const two = await source.commit('two', { 'index.html': 'two\n' });
    const clone = await shallowClone(source);
    clones.push(clone);

    const refused = await clone.push(server.remote(SHALLOW));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.remote).toContain(
      `!     This is a shallow clone (git clone --depth), and ${SHALLOW} is new: its first push needs the whole history. Run \`git fetch --unshallow\` and push again (in CI, fetch the full history: e.g. actions/checkout with fetch-depth: 0).`,
    );
    expect(refused.output).toContain('! [remote rejected] main -> main (shallow clone; run git fetch --unshallow and push again)');
    expect(refused.output).not.toContain('shallow update not allowed');
    expect((await server.api('GET', `/api/apps/${SHALLOW}`)).status).toBe(404);
    expect(existsSync(path.join(server.dataDir, 'repos', `${SHALLOW}.git`))).toBe(false);

    // Doing what it says deploys.
    await clone.git('fetch', '--quiet', '--unshallow');
    const full = await clone.push(server.remote(SHALLOW));
    expect(full.exitCode).toBe(0);
    expect(await getApp(server.routerPort, SHALLOW, '/version.txt')).toEqual({ status: 200, body: `${two}\n` });

    // A CI job's shallow clone of a later commit, whose cut commit the app lacks: git refuses
    // it, and a line first says what to do; done, the push deploys as a fast-forward.
    const three = await source.commit('three', { 'index.html': 'three\n' });
    const ci = await shallowClone(source);
    clones.push(ci);
    const cut = await ci.push(server.remote(SHALLOW), 'main', { args: ['--force'] });
    expect(cut.exitCode).not.toBe(0);
    expect(cut.remote).toContain(
      `!     This is a shallow clone (git clone --depth) and ${SHALLOW} lacks the history below its depth, so git may refuse it ("shallow update not allowed"): if so, run \`git fetch --unshallow\` and push again.`,
    );
    expect(await getApp(server.routerPort, SHALLOW, '/version.txt')).toEqual({ status: 200, body: `${two}\n` });
    await ci.git('fetch', '--quiet', '--unshallow');
    const next = await ci.push(server.remote(SHALLOW));
    expect(next.exitCode).toBe(0);
    expect(next.output).not.toContain('Rewinding');
    expect(await getApp(server.routerPort, SHALLOW, '/version.txt')).toEqual({ status: 200, body: `${three}\n` });
  } finally {
    source.remove();
    for (const clone of clones) clone.remove();
  }
}, 240_000);
