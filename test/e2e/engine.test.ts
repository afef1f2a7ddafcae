import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import type { TestApp } from '../support/app.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { ROOT, ServerSuite, type TestServer } from '../support/server.js';

/**
 * The Docker engine goes away and comes back. This test stops the machine's dockerd, so it
 * always starts it again (scripts/setup), even when an assertion fails.
 */

const NAME = 'engine-app';
const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;
/** Where scripts/setup's dockerd (the default one) writes its process id. */
const MAIN_DOCKERD_PIDFILE = '/var/run/docker.pid';

async function engineAnswers(): Promise<boolean> {
  const { exitCode } = await execa('docker', ['info'], { reject: false, timeout: 10_000 });
  return exitCode === 0;
}

async function startEngine(): Promise<void> {
  if (await engineAnswers()) return;
  await execa('bash', [`${ROOT}/scripts/setup`], { env: { SLIPWAY_SKIP_STACK: '1' } });
}

/**
 * Stops the machine's own dockerd by its pid file, never by name: the Swarm test cluster's node
 * engines (scripts/cluster) are dockerd processes too, and must outlive this test.
 */
async function stopEngine(): Promise<void> {
  const pid = Number(readFileSync(MAIN_DOCKERD_PIDFILE, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${MAIN_DOCKERD_PIDFILE} does not hold a process id`);
  process.kill(pid, 'SIGTERM');
  // dockerd removes its pid file last: wait for the process to end, so the restart does not trip over it.
  for (let i = 0; i < 240 && existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 250));
}

async function servesSoon(sha: string, attempts: number): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const r = await getApp(server.routerPort, NAME, '/version.txt').catch(() => undefined);
    if (r?.status === 200 && r.body.trim() === sha) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

beforeAll(async () => {
  ({ server } = await suite.start());
  app = suite.app(busyboxApp({ web: WEB }));
}, 60_000);

afterAll(async () => {
  await startEngine();
  await suite.stop();
}, 120_000);

test('with the engine down a push is refused with a clear cause; when it is back, the app serves again and pushes deploy', async () => {
  const v1 = await app.commit('v1');
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);

  await stopEngine();
  try {
    await app.commit('while the engine is down', { 'index.html': 'v2\n' });
    const refused = await app.push(server.remote(NAME));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toContain('! [remote rejected] main -> main (aborted)');
    expect(refused.remote.join('\n')).toContain('The Docker engine does not answer');
    expect(refused.remote.join('\n')).toContain('start it (bash scripts/setup) and push again');
  } finally {
    await startEngine();
  }

  // Docker restarts the app's container (restart policy); the router still routes to it.
  expect(await servesSoon(v1, 240)).toBe(true);
  const [aborted] = (await server.api<{ status: string; reason: string }[]>('GET', `/api/apps/${NAME}/deployments`)).body;
  expect(aborted).toMatchObject({ status: 'aborted' });
  expect(aborted!.reason).toContain('The Docker engine does not answer');

  const v3 = await app.commit('v3', { 'index.html': 'v3\n' });
  const result = await app.push(server.remote(NAME));
  expect(result.exitCode).toBe(0);
  expect(await servesSoon(v3, 40)).toBe(true);
}, 240_000);

test('the engine stopping in the middle of a deploy aborts it with the cause; the app comes back with the engine', async () => {
  const before = (await server.api<{ commit: string; status: string }[]>('GET', `/api/apps/${NAME}/deployments`)).body.find((d) => d.status === 'success')!;
  await app.commit('engine stops during the hook', { Procfile: `web: ${WEB}\npostdeploy: echo hook-running; sleep 60\n` });
  let stopping: Promise<void> | undefined;
  const result = await app.push(server.remote(NAME), 'main', {
    onRemoteLine: (line) => {
      if (!stopping && line === 'hook-running') stopping = stopEngine();
    },
  });
  await stopping;
  try {
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toMatch(/\((aborted|hook-error)\)/);
    expect(result.remote.join('\n')).toMatch(/Docker engine does not answer|postdeploy command/);
  } finally {
    await startEngine();
  }
  expect(await servesSoon(before.commit, 240)).toBe(true);
}, 240_000);
