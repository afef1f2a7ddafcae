import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestApp } from '../support/app.js';
import { cliRunner } from '../support/cli.js';
import { clusterDocker, ensureCluster, type TestCluster } from '../support/cluster.js';
import { busyboxApp } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Slipway on a Docker Swarm (issue 18): the server runs here with DOCKER_HOST at the test
 * cluster's manager (scripts/cluster: three engines in network namespaces) and the router here
 * reaches each web task at its node's address. One server and one app for the whole file.
 */

const NAME = 'swarm-app';
/** Swarm tasks answer on their node's address, so the web process listens on every interface. */
const WEB = 'echo "$CONTAINER_VERSION" > /app/version.txt && echo "$CONTAINER" > /app/who.txt && exec httpd -f -p $PORT -h /app';
const WORKER = 'echo "worker $CONTAINER up on $(hostname)"; exec sleep 1000';
const HOOK = 'test -z "$FAIL_HOOK" && echo "postdeploy saw GREETING=$GREETING"';

let cluster: TestCluster;
let server: TestServer;
let home: string;
let app: TestApp;
let slipway: ReturnType<typeof cliRunner>;
const commits: string[] = [];

/** Services of this test's app, on the manager. */
async function services(filter = `label=slipway.app=${NAME}`): Promise<string[]> {
  return (await clusterDocker(cluster.manager, ['service', 'ls', '--filter', filter, '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort();
}

async function removeServices(): Promise<void> {
  const names = await services();
  if (names.length > 0) await clusterDocker(cluster.manager, ['service', 'rm', ...names]);
}

/** The nodes the app's running tasks are on, by service name. */
async function placement(): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  for (const name of await services()) {
    const nodes = await clusterDocker(cluster.manager, ['service', 'ps', name, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}']);
    const running = nodes.split('\n').find((l) => / Running /.test(l));
    if (running) where.set(name, running.split(' ')[0]!);
  }
  return where;
}

/** Which web tasks answer through the router: each one's CONTAINER, over a few requests. */
async function answering(requests = 16): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const { status, body } = await getApp(server.routerPort, NAME, '/who.txt');
    seen.add(status === 200 ? body.trim() : `HTTP ${status}`);
  }
  return seen;
}

beforeAll(async () => {
  cluster = await ensureCluster(3);
  await removeServices(); // left by a run that was killed
  server = await startServer({
    env: { DOCKER_HOST: cluster.manager },
    args: ['--engine', 'swarm', '--registry', cluster.registry],
  });
  home = mkdtempSync(path.join(os.tmpdir(), 'slipway-home-'));
  slipway = cliRunner(server, home);
  app = new TestApp(busyboxApp({ web: WEB, worker: WORKER, postdeploy: HOOK }));
}, 600_000);

afterAll(async () => {
  await server?.stop();
  if (cluster) await removeServices();
  app?.remove();
  if (home) rmSync(home, { recursive: true, force: true });
}, 120_000);

test('a push with web=2 and a worker deploys over the nodes, in the same phases, and the router serves every web task', async () => {
  commits.push(await app.commit('first'));
  const first = await app.push(server.remote(NAME));
  expect(first.exitCode).toBe(0);
  await server.api('PATCH', `/api/apps/${NAME}/env`, { GREETING: 'hello from the swarm' });
  expect((await slipway(['scale', 'web=2', '-a', NAME])).exitCode).toBe(0);

  commits.push(await app.commit('second'));
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).toBe(0);
  const lines = pushed.remote.join('\n');
  // The phases of one engine, in order, with the registry push between the build and the start.
  const phases = [
    /-----> Building image with/,
    new RegExp(`-----> Pushing the image to the registry ${cluster.registry.replace(/\./g, '\\.')}`),
    /^[\d.]+ MB pushed in [\d.]+s$/m,
    /-----> Starting web-1, web-2, worker-1/,
    /-----> Waiting for web-1 to accept connections at 10\.213\.47\.\d+:\d+ \(slipway-n\d\)/,
    /-----> Waiting for web-2 to accept connections at 10\.213\.47\.\d+:\d+ \(slipway-n\d\)/,
    /-----> Running postdeploy: /,
    /postdeploy saw GREETING=hello from the swarm/,
    /-----> Switching traffic to deployment 2/,
    /-----> Stopping the previous containers: web-1, web-2, worker-1/,
    /-----> Deployment 2 succeeded/,
  ];
  let at = 0;
  for (const phase of phases) {
    // Each after the one before it (a failure shows what came after the last one found).
    expect(lines.slice(at)).toMatch(phase);
    const found = phase.exec(lines.slice(at))!;
    at += found.index + found[0].length;
  }

  // One service per process, spread over more than one node; the hook's job is gone.
  const where = await placement();
  expect([...where.keys()]).toEqual([`slipway-${NAME}-2-web-1`, `slipway-${NAME}-2-web-2`, `slipway-${NAME}-2-worker-1`]);
  expect(new Set(where.values()).size).toBeGreaterThan(1);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[1]);
}, 400_000);

test('a failing postdeploy is rejected (hook-error): the old tasks keep serving and no new service is left', async () => {
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: '1' });
  commits.push(await app.commit('third'));
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).not.toBe(0);
  expect(pushed.output).toMatch(/! \[remote rejected\] main -> main \(hook-error\)/);
  expect(pushed.remote.join('\n')).toMatch(/The postdeploy command failed with exit code 1/);
  expect(await services(`label=slipway.deployment=3`)).toEqual([]);
  expect(await services()).toEqual([`slipway-${NAME}-2-web-1`, `slipway-${NAME}-2-web-2`, `slipway-${NAME}-2-worker-1`]);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[1]);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: null });
}, 400_000);
