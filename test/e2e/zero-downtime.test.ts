import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { execa } from 'execa';
import http from 'node:http';
import { TestApp } from '../support/app.js';
import { removeApp } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

jest.setTimeout(300_000);

let server: TestServer;
let app: TestApp;
const NAME = 'steady-app';

beforeAll(async () => {
  // Two router processes: the switch must hold across both, and a dead container must leave
  // the rotation of each.
  server = await startServer({ env: { SLIPWAY_ROUTER_WORKERS: '2' } });
  app = new TestApp({});
});

afterAll(async () => {
  await server?.stop();
  await removeApp(NAME);
  app?.remove();
});

interface Tally {
  ok: number;
  failures: string[];
  /** Commit SHA served → how many responses. */
  servedBy: Map<string, number>;
}

/** Clients that keep requesting the app through the router until told to stop (bounded). */
function steadyLoad(clients: number, maxRequests: number): { stop: () => Promise<Tally> } {
  const tally: Tally = { ok: 0, failures: [], servedBy: new Map() };
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port: server.routerPort, path: '/version.txt', headers: { host: `${NAME}.localhost` }, agent },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode === 200) {
              tally.ok++;
              const sha = body.trim();
              tally.servedBy.set(sha, (tally.servedBy.get(sha) ?? 0) + 1);
            } else tally.failures.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        tally.failures.push(`connection error: ${error.message}`);
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    });
  const loops = Array.from({ length: clients }, async () => {
    while (running && sent < maxRequests) {
      sent++;
      await one();
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return tally;
    },
  };
}

test('not one failed request across successful deploys, failed hooks and a crashed deploy', async () => {
  const good: string[] = [];
  const rejected: string[] = [];
  app.write(busyboxApp({ web: WEB, postdeploy: 'echo ok' }));
  good.push(await app.commit('v0'));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);

  const load = steadyLoad(4, 200_000);
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

test('a web container that dies is restarted and served again; the deployment stays success', async () => {
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
