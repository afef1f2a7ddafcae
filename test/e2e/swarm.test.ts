import type { TestApp } from '../support/app.js';
import { clusterDocker, ensureCluster, startNode, stopNode, type TestCluster } from '../support/cluster.js';
import { busyboxApp } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { steadyLoad, type Tally } from '../support/load.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

/**
 * Slipway on a Docker Swarm (issue 18): the server runs here with DOCKER_HOST at the test
 * cluster's manager (scripts/cluster: three engines in network namespaces) and the router here
 * reaches each web task at its node's address. One server and one app for the whole file.
 */

const NAME = 'swarm-app';
/** Swarm tasks answer on their node's address, so the web process listens on every interface. */
const WEB =
  'echo "$CONTAINER_VERSION" > /app/version.txt && echo "$CONTAINER" > /app/who.txt && echo "$CONTAINER $GREETING" > /app/greeting.txt && echo "$CONTAINER up on $(hostname)" && exec httpd -f -p $PORT -h /app';
const WORKER = 'echo "worker $CONTAINER up on $(hostname)"; exec sleep 1000';
const HOOK = 'test -z "$FAIL_HOOK" && { test -z "$SLOW_HOOK" || sleep 120; } && echo "postdeploy saw GREETING=$GREETING"';

/** No app names: the app's services and images are on the cluster's engines, removed below. */
const suite = new ServerSuite();
let cluster: TestCluster;
let server: TestServer;
let app: TestApp;
let slipway: CliRunner;
const commits: string[] = [];

/** Services of this test's app, on the manager. */
async function services(filter = `label=slipway.app=${NAME}`): Promise<string[]> {
  return (await clusterDocker(cluster.manager, ['service', 'ls', '--filter', filter, '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort();
}

async function removeServices(): Promise<void> {
  const names = await services();
  if (names.length > 0) await clusterDocker(cluster.manager, ['service', 'rm', ...names]);
}

/** The app's images on every node: built on the manager, pulled by the others. */
async function removeImages(): Promise<void> {
  for (const node of cluster.nodes) {
    // By id: the nodes pulled them by digest, untagged.
    const images = (await clusterDocker(cluster.hosts[node]!, ['images', '--format', '{{.Repository}} {{.ID}}']))
      .split('\n')
      .filter((line) => line.split(' ')[0]!.endsWith(`slipway/${NAME}`))
      .map((line) => line.split(' ')[1]!);
    if (images.length > 0) await clusterDocker(cluster.hosts[node]!, ['rmi', '-f', ...images]).catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The app's containers carrying `label` on every node, running or not. */
async function containers(label: string): Promise<string[]> {
  const all: string[] = [];
  for (const node of cluster.nodes) {
    const out = await clusterDocker(cluster.hosts[node]!, [
      'ps',
      '-a',
      '--filter',
      `label=slipway.app=${NAME}`,
      '--filter',
      `label=${label}`,
      '--format',
      '{{.Names}}',
    ]);
    all.push(...out.split('\n').filter(Boolean));
  }
  return all;
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

/** Which web tasks answer through the router: each one's CONTAINER (or `file`), over a few requests. */
async function answering(requests = 16, file = '/who.txt', host = `${NAME}.localhost`): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const { status, body } = await getApp(server.routerPort, NAME, file, host);
    seen.add(status === 200 ? body.trim() : `HTTP ${status}`);
  }
  return seen;
}

beforeAll(async () => {
  cluster = await ensureCluster(3);
  await removeServices(); // left by a run that was killed
  ({ server, slipway } = await suite.start({
    // Each node's engine as a task on that node reaches it: the test nodes share this machine's
    // filesystem, so each one's socket is named after it (a real node's is /var/run/docker.sock).
    env: { DOCKER_HOST: cluster.manager, SLIPWAY_NODE_DOCKER_HOST: cluster.hosts[cluster.nodes[0]!]!.replace(cluster.nodes[0]!, '{{.Node.Hostname}}') },
    args: ['--engine', 'swarm', '--registry', cluster.registry],
  }));
  app = suite.app(busyboxApp({ web: WEB, worker: WORKER, postdeploy: HOOK }));
}, 600_000);

afterAll(async () => {
  await suite.stop();
  if (cluster) await removeServices();
  if (cluster) {
    // Swarm removes a service's containers some seconds after the service; an image in use stays.
    for (let i = 0; i < 60 && (await containers(`slipway.app=${NAME}`)).length > 0; i++) await sleep(500);
    await removeImages();
  }
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
  // Swarm removes a removed service's containers on their nodes shortly after: none stays.
  for (let i = 0; i < 60 && (await containers('slipway.deployment=3')).length > 0; i++) await sleep(500);
  expect(await containers('slipway.deployment=3')).toEqual([]);
  expect(await services()).toEqual([`slipway-${NAME}-2-web-1`, `slipway-${NAME}-2-web-2`, `slipway-${NAME}-2-worker-1`]);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[1]);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: null });
}, 400_000);

interface NodeJson {
  name: string;
  address: string;
  role: string;
  state: string;
  availability: string;
  tasks: number;
}

interface ProcessJson {
  name: string;
  node: string | null;
  deployment: number;
  state: string;
}

test('slipway nodes lists the three nodes with their tasks; ps has a NODE column', async () => {
  const nodes = JSON.parse((await slipway(['nodes', '--json'])).stdout as string) as NodeJson[];
  expect(nodes.map(({ tasks: _tasks, ...n }) => n)).toEqual(
    cluster.nodes.map((name, i) => ({
      name,
      address: cluster.addresses[name],
      role: i === 0 ? 'manager' : 'worker',
      state: 'ready',
      availability: 'active',
      // The manager is the engine Slipway talks to; no app has storage yet.
      local: i === 0,
      storage: [],
    })),
  );
  // web-1, web-2 and worker-1 of deployment 2 run somewhere, each counted once.
  expect(nodes.reduce((sum, n) => sum + n.tasks, 0)).toBe(3);
  const table = (await slipway(['nodes'])).stdout as string;
  expect(table.split('\n')[0]).toMatch(/^NAME +ADDRESS +ROLE +STATE +AVAILABILITY +TASKS$/);
  expect(table).toMatch(/slipway-n2 +10\.213\.47\.12 +worker +ready +active +\d/);

  const ps = JSON.parse((await slipway(['ps', '-a', NAME, '--json'])).stdout as string) as ProcessJson[];
  const where = await placement();
  expect(ps.map((p) => [p.name, p.node])).toEqual([
    ['web-1', where.get(`slipway-${NAME}-2-web-1`)],
    ['web-2', where.get(`slipway-${NAME}-2-web-2`)],
    ['worker-1', where.get(`slipway-${NAME}-2-worker-1`)],
  ]);
  expect(((await slipway(['ps', '-a', NAME])).stdout as string).split('\n')[0]).toMatch(/^NAME +STATE +SINCE +DEPLOYMENT +NODE +PORT +RESTARTS$/);
}, 120_000);

test('logs come from tasks on several nodes, merged in time order', async () => {
  const result = await slipway(['logs', '-a', NAME, '--json', '-n', '50']);
  expect(result.exitCode).toBe(0);
  const records = (result.stdout as string)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { time: string; container: string; line: string });
  const ups = records.filter((r) => / up on slipway-n\d$/.test(r.line));
  expect(ups.map((r) => r.container).sort()).toEqual(['web-1', 'web-2', 'worker-1']);
  // Each says its node's hostname (host networking); they ran on more than one node.
  expect(new Set(ups.map((r) => r.line.replace(/.* up on /, ''))).size).toBeGreaterThan(1);
  const times = records.map((r) => r.time);
  expect(times).toEqual([...times].sort());
}, 120_000);

test('scale web=4 spreads the new tasks and routes them; scale back to 2 retires them', async () => {
  const up = await slipway(['scale', 'web=4', '-a', NAME]);
  expect(up.exitCode).toBe(0);
  const where = await placement();
  expect([...where.keys()].filter((n) => n.includes('-web-'))).toHaveLength(4);
  expect(new Set(where.values()).size).toBe(3);
  expect(await answering(24)).toEqual(new Set(['web-1', 'web-2', 'web-3', 'web-4']));

  const down = await slipway(['scale', 'web=2', '-a', NAME]);
  expect(down.exitCode).toBe(0);
  expect(await services()).toEqual([`slipway-${NAME}-2-web-1`, `slipway-${NAME}-2-web-2`, `slipway-${NAME}-2-worker-1`]);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
}, 300_000);

test('rollback runs the earlier image from the registry, on the nodes, without rebuilding', async () => {
  const rolled = await slipway(['rollback', '1', '-a', NAME]);
  expect(rolled.exitCode).toBe(0);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[0]);
  const deployment = JSON.parse((await slipway(['ps', '-a', NAME, '--json'])).stdout as string) as ProcessJson[];
  expect(new Set(deployment.map((p) => p.deployment))).toEqual(new Set([4]));
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
}, 300_000);

test('env:set --restart replaces every task on the swarm with one that has the new env, served through the router', async () => {
  const before = await services();
  const set = await slipway(['env:set', 'GREETING=restarted on the swarm', '-a', NAME, '--restart']);
  expect(set.exitCode).toBe(0);
  // Each web task the router sends requests to says the new value; none the old one.
  expect(await answering(16, '/greeting.txt')).toEqual(new Set(['web-1 restarted on the swarm', 'web-2 restarted on the swarm']));
  // New services took the old ones' places (a restart's replacements), still one per process.
  const after = await services();
  expect(after).toHaveLength(3);
  expect(after.filter((name) => before.includes(name))).toEqual([]);
  expect(after.map((name) => name.replace(/-r[0-9a-z]+$/, ''))).toEqual(before.map((name) => name.replace(/-r[0-9a-z]+$/, '')));
  // The worker was replaced too (its new task said so).
  const logs = ((await slipway(['logs', '-a', NAME, '--json', '-n', '200'])).stdout as string)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { container: string; line: string });
  expect(logs.filter((r) => r.container === 'worker-1' && /^worker worker-1 up on slipway-n\d$/.test(r.line))).toHaveLength(1);
}, 300_000);

test('maintenance on/off and a custom domain work on the swarm as on one engine', async () => {
  expect((await slipway(['maintenance:on', '-a', NAME])).exitCode).toBe(0);
  const page = await getApp(server.routerPort, NAME, '/who.txt');
  expect(page.status).toBe(503);
  expect(page.body).toContain(`${NAME} is down for maintenance and will be back shortly.`);
  expect((await slipway(['maintenance:off', '-a', NAME])).exitCode).toBe(0);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));

  const domain = 'www.swarm-app.test';
  expect(await answering(2, '/who.txt', domain)).toEqual(new Set(['HTTP 404']));
  expect((await slipway(['domains:add', domain, '-a', NAME])).exitCode).toBe(0);
  // Under its own Host, the app's tasks on the nodes answer, each of them.
  expect(await answering(16, '/who.txt', domain)).toEqual(new Set(['web-1', 'web-2']));
  expect((await slipway(['domains:remove', domain, '-a', NAME])).exitCode).toBe(0);
  expect(await answering(2, '/who.txt', domain)).toEqual(new Set(['HTTP 404']));
}, 120_000);

/** The digest the registry serves for the app's tag (null: it has none). */
async function registryDigest(ref: string): Promise<string | null> {
  const response = await fetch(`http://${cluster.registry}/v2/slipway/${NAME}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  return response.status === 200 ? response.headers.get('docker-content-digest') : null;
}

/** The nodes whose engine holds the image with this digest. */
async function nodesWithDigest(digest: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of cluster.nodes) {
    const out = await clusterDocker(cluster.hosts[node]!, ['images', '--digests', '--format', '{{.Repository}}@{{.Digest}}']);
    if (out.split('\n').includes(`${cluster.registry}/slipway/${NAME}@${digest}`)) found.push(node);
  }
  return found;
}

test('old images go from every node and from the registry, as on one engine; the kept ones stay', async () => {
  // Deployment 2's image ran web tasks on two nodes; 1's is kept (deployment 4 rolled back to it).
  const old = await registryDigest('2');
  expect(old).not.toBeNull();
  expect((await nodesWithDigest(old!)).length).toBeGreaterThan(0);
  // Four more successful deployments: with deployment 4, the last five; 2 is the oldest left out.
  let last = '';
  for (let i = 1; i <= 4; i++) {
    commits.push(await app.commit(`image round ${i}`));
    const pushed = await app.push(server.remote(NAME));
    expect(pushed.exitCode).toBe(0);
    last = pushed.remote.join('\n');
  }
  expect(last).not.toMatch(/could not remove the image/);
  expect(await registryDigest('2')).toBeNull();
  expect(await nodesWithDigest(old!)).toEqual([]);
  // No cleanup service is left behind, and the kept images are still there for a rollback.
  expect(await services('label=slipway.role=cleanup')).toEqual([]);
  expect(await registryDigest('1')).not.toBeNull();
  const current = await registryDigest('8');
  expect(current).not.toBeNull();
  expect((await nodesWithDigest(current!)).length).toBeGreaterThan(0);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[commits.length - 1]);
}, 300_000);

test('a node whose engine stops: no GET fails, Swarm restarts its web task elsewhere and the route follows; the node comes back', async () => {
  // A worker node that runs a web task while another node runs the other (the manager must stay:
  // it is the swarm's only one). With both web tasks on one node, its failure would leave no
  // target to retry on; Swarm placed them, so a restart lets it place them again.
  const victimOf = (where: Map<string, string>): [string, string] | undefined => {
    const web = [...where].filter(([service]) => service.includes('-web-'));
    return web.find(([, node]) => node !== cluster.nodes[0] && web.some(([, other]) => other !== node));
  };
  let before = await placement();
  for (let i = 0; i < 3 && victimOf(before) === undefined; i++) {
    expect((await slipway(['restart', '-a', NAME])).exitCode).toBe(0);
    before = await placement();
  }
  const [moved, victim] = victimOf(before) ?? [];
  expect(victim).toBeDefined();
  const index = cluster.nodes.indexOf(victim!) + 1;
  const load = steadyLoad({ routerPort: server.routerPort, app: NAME, clients: 4, maxRequests: 20_000, pauseMs: 20 });
  let tally: Tally;
  try {
    await sleep(1000);
    await stopNode(index);
    // Swarm notices the node is gone (its heartbeats stop) and starts the task on another node.
    let now = await placement();
    for (let i = 0; i < 240 && (now.get(moved!) ?? victim) === victim; i++) {
      await sleep(500);
      now = await placement();
    }
    expect(now.get(moved!)).toBeDefined();
    expect(now.get(moved!)).not.toBe(victim);
    // The router sends it requests again once it answers at its new node's address.
    let seen = await answering(8);
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      await sleep(500);
      seen = await answering(8);
    }
    expect(seen).toEqual(new Set(['web-1', 'web-2']));
    await sleep(1000);
  } finally {
    tally = await load.stop();
    // The node comes back whatever happened: later tests and runs need all three.
    await startNode(index);
  }
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(100);
  const current = (await server.api<{ currentDeployment: number }>('GET', `/api/apps/${NAME}`)).body.currentDeployment;
  const deployments = (await server.api<{ id: number; status: string }[]>('GET', `/api/apps/${NAME}/deployments`)).body;
  expect(deployments.find((d) => d.id === current)?.status).toBe('success');
  // The node is back and ready; it gets no task until the next deploy or scale.
  let nodes: NodeJson[] = [];
  for (let i = 0; i < 120 && nodes.find((n) => n.name === victim)?.state !== 'ready'; i++) {
    await sleep(500);
    nodes = JSON.parse((await slipway(['nodes', '--json'])).stdout as string) as NodeJson[];
  }
  expect(nodes.find((n) => n.name === victim)).toMatchObject({ state: 'ready', tasks: 0 });
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
}, 400_000);

test('the server killed mid-deploy on a swarm: at restart the deployment is aborted, its services go, the old tasks serve on', async () => {
  const serving = (await getApp(server.routerPort, NAME, '/version.txt')).body.trim();
  await server.api('PATCH', `/api/apps/${NAME}/env`, { SLOW_HOOK: '1' });
  commits.push(await app.commit('killed mid-deploy'));
  let hookRuns!: () => void;
  const inHook = new Promise<void>((resolve) => (hookRuns = resolve));
  const push = app.push(server.remote(NAME), 'main', { onRemoteLine: (line) => /Running postdeploy/.test(line) && hookRuns() });
  await inHook;
  const id = Math.max(...(await server.api<{ id: number }[]>('GET', `/api/apps/${NAME}/deployments`)).body.map((d) => d.id));
  expect((await services(`label=slipway.deployment=${id}`)).length).toBeGreaterThan(0);
  await server.crash();
  expect((await push).exitCode).not.toBe(0);

  await server.restart();
  // Recovery removes what the deployment created (the hook's task gets its stop grace), then records it.
  const status = async (): Promise<string> => (await server.api<{ status: string }>('GET', `/api/apps/${NAME}/deployments/${id}`)).body.status;
  for (let i = 0; i < 180 && (await status()) !== 'aborted'; i++) await sleep(500);
  expect(await status()).toBe('aborted');
  expect(await services(`label=slipway.deployment=${id}`)).toEqual([]);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(serving);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
  await server.api('PATCH', `/api/apps/${NAME}/env`, { SLOW_HOOK: null });
}, 300_000);

test('storage:mount on a swarm pins the app to the node its storage is on, and says so', async () => {
  const mounted = await slipway(['storage:mount', '/data', '-a', NAME]);
  expect(mounted.stdout).toMatch(`The storage is on the swarm node ${cluster.nodes[0]}: every container of ${NAME} runs there from then on.`);
  expect((await slipway(['restart', '-a', NAME])).exitCode).toBe(0);
  const where = await placement();
  expect(where.size).toBe(3);
  expect(new Set(where.values())).toEqual(new Set([cluster.nodes[0]]));
  const nodes = JSON.parse((await slipway(['nodes', '--json'])).stdout as string) as (NodeJson & { storage: string[] })[];
  expect(nodes.map((n) => [n.name, n.storage])).toEqual(cluster.nodes.map((n, i) => [n, i === 0 ? [NAME] : []]));
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));
}, 300_000);
