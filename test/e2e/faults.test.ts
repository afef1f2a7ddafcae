import { jest } from '@jest/globals';
import { execa } from 'execa';
import type { ChildProcess } from 'node:child_process';
import type { TestApp } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { BUSYBOX_DOCKERFILE, busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { ServerSuite, type TestServer } from '../support/server.js';

// Every test here kills and restarts the real server mid-deploy and pushes again: each test and
// hook gets up to 3 minutes (an explicit bound, so a slow machine is not a failure).
jest.setTimeout(180_000);

const NAME = 'fault-app';
const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;

interface DeploymentJson {
  id: number;
  status: string;
  reason: string | null;
  commit: string;
}

async function latest(): Promise<DeploymentJson> {
  const res = await server.api<DeploymentJson[]>('GET', `/api/apps/${NAME}/deployments`);
  return res.body[0]!;
}

async function serverRef(): Promise<string> {
  const { stdout } = await execa('git', ['ls-remote', server.remote(NAME), 'refs/heads/main']);
  return stdout.split('\t')[0]!;
}

/** Polls the router (at most ~10 s) until the app serves `sha`. */
async function servesSoon(sha: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const r = await getApp(server.routerPort, NAME, '/version.txt').catch(() => undefined);
    if (r?.status === 200 && r.body.trim() === sha) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Pushes, kills the server with SIGKILL the moment `marker` appears in the push output, restarts it. */
async function pushAndCrashAt(marker: string): Promise<void> {
  let crashed: Promise<void> | undefined;
  const result = await app.push(server.remote(NAME), 'main', {
    onRemoteLine: (line) => {
      if (!crashed && line.includes(marker)) crashed = server.crash();
    },
  });
  expect(crashed).toBeDefined();
  await crashed;
  expect(result.exitCode).not.toBe(0);
  await server.restart();
  await recovered();
}

/**
 * Recovery runs behind the server's start (the router serves throughout): waits, at most ~30 s,
 * until it has finished the deployment the crash interrupted.
 */
async function recovered(): Promise<void> {
  for (let i = 0; i < 300 && ['queued', 'building', 'starting'].includes((await latest()).status); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  ({ server } = await suite.start());
  app = suite.app(busyboxApp({ web: WEB }));
});

afterAll(() => suite.stop());

test.each([
  ['building', { Dockerfile: `${BUSYBOX_DOCKERFILE}RUN echo "slow build step" && sleep 30\n` }, 'slow build step'],
  ['waiting for boot', { Procfile: `web: sleep 30; ${WEB}\n` }, 'Waiting for web-1'],
  ['running the hook', { Procfile: `web: ${WEB}\npostdeploy: echo hook-started; sleep 60\n` }, 'hook-started'],
])('a server killed while %s comes back serving the old version, the deployment aborted and cleaned up', async (_phase, files, marker) => {
  const good = await app.commit('good', busyboxApp({ web: WEB }));
  const first = await app.push(server.remote(NAME));
  expect(first.exitCode).toBe(0);
  const goodId = (await latest()).id;

  await app.commit(`interrupted ${_phase}`, files);
  await pushAndCrashAt(marker);

  expect(await servesSoon(good)).toBe(true);
  const interrupted = await latest();
  expect(interrupted).toMatchObject({ id: goodId + 1, status: 'aborted' });
  expect(interrupted.reason).toContain('The server stopped while deployment');
  expect(await appContainers(NAME)).toEqual([`slipway-${NAME}-${goodId}-web-1`]);
  expect(await serverRef()).toBe(good);
  const output = await server.api<string>('GET', `/api/apps/${NAME}/deployments/${interrupted.id}/output`);
  expect(output.body).toContain(marker);
  expect(output.body).toContain('Aborted: The server stopped');
});

test('a server killed right after the switch comes back serving the new version, recorded as a success', async () => {
  // The serving version ignores SIGTERM, so retiring it takes the whole stop timeout: the
  // server is killed in that window, after traffic moved.
  await app.commit('stubborn', busyboxApp({ web: `trap "" TERM; ${WEB.replace('exec ', '')} & wait` }));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  expect((await server.api('PATCH', `/api/apps/${NAME}/settings`, { stopTimeout: 20 })).status).toBe(200);
  const stubbornId = (await latest()).id;

  const next = await app.commit('next', busyboxApp({ web: WEB }));
  await pushAndCrashAt('Stopping the previous containers');

  expect(await servesSoon(next)).toBe(true);
  expect(await latest()).toMatchObject({ id: stubbornId + 1, status: 'success', commit: next });
  expect(await serverRef()).toBe(next);
  // The old container is retired in the background after the restart, as a retire would: it
  // ignores SIGTERM, so it goes after the app's 20 s stop timeout.
  let containers: string[] = [];
  for (let i = 0; i < 60; i++) {
    containers = await appContainers(NAME);
    if (containers.length === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect(containers).toEqual([`slipway-${NAME}-${stubbornId + 1}-web-1`]);
});

test('after the crashes, the next push deploys normally (no lock remains)', async () => {
  const sha = await app.commit('after', { 'index.html': 'after the storm\n' });
  const result = await app.push(server.remote(NAME));
  expect(result.exitCode).toBe(0);
  expect(await servesSoon(sha)).toBe(true);
});

test('a client that goes away mid-deploy does not stop it: it finishes, the branch matches what serves, the log stays readable', async () => {
  const sha = await app.commit('client leaves', busyboxApp({ web: WEB, postdeploy: 'echo hook-started; sleep 2; echo hook-finished' }));
  let child: ChildProcess | undefined;
  const result = await app.push(server.remote(NAME), 'main', {
    onSpawn: (c) => (child = c),
    onRemoteLine: (line) => {
      // Ctrl-C: the whole process group of git push.
      if (line.includes('hook-started') && child?.pid) process.kill(-child.pid, 'SIGKILL');
    },
  });
  expect(result.exitCode).not.toBe(0);

  let status = '';
  for (let i = 0; i < 100 && !['success', 'hook-error', 'aborted'].includes(status); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = (await latest()).status;
  }
  const finished = await latest();
  expect(finished).toMatchObject({ status: 'success', commit: sha });
  expect(await serverRef()).toBe(sha);
  expect(await servesSoon(sha)).toBe(true);
  const output = await server.api<string>('GET', `/api/apps/${NAME}/deployments/${finished.id}/output`);
  expect(output.body).toContain('hook-finished');
  expect(output.body).toMatch(/Deployment \d+ succeeded/);
});

test('a server killed mid-restart comes back with the routed containers only, serving, and restarts again', async () => {
  // With SLOW set, a new web container takes 3 s to listen: long enough to crash the server while
  // the restart's replacement is booting.
  const sha = await app.commit('slow boot', busyboxApp({ web: `test -z "$SLOW" || sleep 3; ${WEB}` }));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  const before = await appContainers(NAME);
  expect(before).toHaveLength(1);
  await server.api('PATCH', `/api/apps/${NAME}/env`, { SLOW: '1' });

  const restart = server.api('POST', `/api/apps/${NAME}/restart`, {}).catch(() => undefined);
  let during: string[] = [];
  for (let i = 0; i < 100 && during.length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    during = await appContainers(NAME);
  }
  expect(during).toHaveLength(2);
  await server.crash();
  await restart;
  await server.restart();

  // The unrouted replacement is a stray: removed; the routed container serves throughout.
  let after = await appContainers(NAME);
  for (let i = 0; i < 100 && after.length > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await appContainers(NAME);
  }
  expect(after).toEqual(before);
  expect(await servesSoon(sha)).toBe(true);
  expect(server.output()).toContain(
    `${NAME}: removed ${during.find((c) => !before.includes(c))}, left over from a retire, restart or scale that did not finish`,
  );

  await server.api('PATCH', `/api/apps/${NAME}/env`, { SLOW: null });
  const again = await server.api<string>('POST', `/api/apps/${NAME}/restart`, {});
  expect(String(again.body)).toContain('"result":{"restarted":["web-1"]}');
  expect(await servesSoon(sha)).toBe(true);
});
