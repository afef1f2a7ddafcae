import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { execa } from 'execa';
import type { TestApp } from '../support/app.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { steadyLoad } from '../support/load.js';
import { ServerSuite, type TestServer } from '../support/server.js';

// Every test here deploys under steady load through the real router: each test and hook gets
// up to 5 minutes (an explicit bound, so a slow machine is not a failure).
jest.setTimeout(300_000);

const NAME = 'steady-app';
const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;

beforeAll(async () => {
  // Two router processes: the switch must hold across both, and a dead container must leave
  // the rotation of each.
  ({ server } = await suite.start({ env: { SLIPWAY_ROUTER_WORKERS: '2' } }));
  app = suite.app({});
});

afterAll(() => suite.stop());

test('not one failed request across successful deploys, failed hooks and a crashed deploy', async () => {
  const good: string[] = [];
  const rejected: string[] = [];
  app.write(busyboxApp({ web: WEB, postdeploy: 'echo ok' }));
  good.push(await app.commit('v0'));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);

  const load = steadyLoad({ routerPort: server.routerPort, app: NAME, clients: 4, maxRequests: 200_000 });
  // Let the load reach a steady state first.
  await new Promise((resolve) => setTimeout(resolve, 300));

  for (let i = 1; i <= 5; i++) {
    good.push(await app.commit(`good ${i}`, { 'index.html': `good ${i}\n`, Procfile: `web: ${WEB}\npostdeploy: echo ok\n` }));
    const result = await app.push(server.remote(NAME));
    expect(result.exitCode).toBe(0);

    // The failing hook first checks the new container answers (the smoke-test gate), then fails.
    rejected.push(
      await app.commit(`bad hook ${i}`, {
        Procfile: `web: ${WEB}\npostdeploy: wget -q -O- $SLIPWAY_RELEASE_URL/version.txt && sleep 0.5 && exit 1\n`,
      }),
    );
    const failed = await app.push(server.remote(NAME));
    expect(failed.output).toContain('(hook-error)');
  }
  rejected.push(await app.commit('crash', { Procfile: 'web: echo boom; exit 2\n' }));
  expect((await app.push(server.remote(NAME))).output).toContain('(crashed-error)');

  const tally = await load.stop();
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(100);
  for (const sha of rejected) expect(tally.servedBy.get(sha) ?? 0).toBe(0);
  // Every response came from a deployment that succeeded, and the last one serves now.
  expect([...tally.servedBy.keys()].every((sha) => good.includes(sha))).toBe(true);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${good.at(-1)}\n` });
});

test('the hook can reach the new web container through SLIPWAY_RELEASE_URL before users do', async () => {
  const sha = await app.commit('smoke', {
    Procfile: `web: ${WEB}\npostdeploy: echo "urls=$SLIPWAY_RELEASE_URLS"; wget -q -O- $SLIPWAY_RELEASE_URL/version.txt\n`,
  });
  const result = await app.push(server.remote(NAME));
  expect(result.exitCode).toBe(0);
  expect(result.remote.find((l) => l.startsWith('urls='))).toMatch(/^urls=http:\/\/127\.0\.0\.1:\d+$/);
  expect(result.remote).toContain(sha);
});

test('maintenance is in every router worker by the time the API answers: each of 20 requests gets the page, then each gets the app', async () => {
  expect((await server.api('PUT', `/api/apps/${NAME}/maintenance`, { enabled: true })).status).toBe(200);
  // Fresh connections, so both workers answer some of them.
  const during = await Promise.all(Array.from({ length: 20 }, () => getApp(server.routerPort, NAME, '/version.txt')));
  expect(during.map((r) => r.status)).toEqual(Array(20).fill(503));
  expect(during[0]!.body).toContain(`${NAME} is down for maintenance`);
  expect((await server.api('PUT', `/api/apps/${NAME}/maintenance`, { enabled: false })).status).toBe(200);
  const after = await Promise.all(Array.from({ length: 20 }, () => getApp(server.routerPort, NAME, '/version.txt')));
  expect(after.map((r) => r.status)).toEqual(Array(20).fill(200));
});

/** Runs an operation endpoint (NDJSON progress) and returns its final event. */
async function operation(pathname: string, body: object): Promise<{ result?: unknown; error?: string; message?: string }> {
  const { status, body: text } = await server.api<string>('POST', pathname, body);
  expect(status).toBe(200);
  const events = String(text)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { result?: unknown; error?: string });
  return events.at(-1)!;
}

test('not one failed request while scaling up and down, restarting and changing the environment', async () => {
  const load = steadyLoad({ routerPort: server.routerPort, app: NAME, clients: 4, maxRequests: 200_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const steps: [string, object][] = [
    [`/api/apps/${NAME}/scale`, { web: 3 }],
    [`/api/apps/${NAME}/restart`, {}],
    [`/api/apps/${NAME}/scale`, { web: 1 }],
    [`/api/apps/${NAME}/restart`, { type: 'web' }],
    [`/api/apps/${NAME}/scale`, { web: 2 }],
  ];
  for (const [pathname, body] of steps) {
    expect(await operation(pathname, body)).toHaveProperty('result');
  }
  expect((await server.api('PATCH', `/api/apps/${NAME}/env`, { MOOD: 'calm' })).status).toBe(200);
  expect(await operation(`/api/apps/${NAME}/restart`, {})).toHaveProperty('result');
  const tally = await load.stop();
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(100);
  const ps = (await server.api<{ name: string; state: string }[]>('GET', `/api/apps/${NAME}/ps`)).body;
  expect(ps.map((c) => `${c.name} ${c.state}`)).toEqual(['web-1 running', 'web-2 running']);
  const env = await getApp(server.routerPort, NAME, '/env.txt');
  expect(env.body).toContain('MOOD=calm');
});

test('a web container that dies is restarted and served again; the deployment stays success', async () => {
  // One web container, so that only its return can serve the app again.
  expect(await operation(`/api/apps/${NAME}/scale`, { web: 1 })).toHaveProperty('result');
  const docker = new Docker();
  const [container] = await docker.listContainers({ filters: { label: [`slipway.app=${NAME}`, 'slipway.type=web'] } });
  expect(container).toBeDefined();
  const before = await docker.getContainer(container!.Id).inspect();
  // The app process crashes (killed under the container's init), as opposed to an operator
  // stopping the container, which Docker rightly does not undo.
  await execa('pkill', ['-9', '-P', String(before.State.Pid)]);

  // Docker restarts it (restart policy); the router takes it back once it accepts connections.
  let served = false;
  for (let i = 0; i < 100 && !served; i++) {
    const r = await getApp(server.routerPort, NAME, '/version.txt').catch(() => undefined);
    served = r?.status === 200;
    if (!served) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(served).toBe(true);
  const after = await docker.getContainer(container!.Id).inspect();
  expect(after.RestartCount).toBeGreaterThan(before.RestartCount);
  const [latest] = (await server.api<{ status: string }[]>('GET', `/api/apps/${NAME}/deployments`)).body;
  expect(latest!.status).toBe('success');
});
