import { clusterDocker, ensureCluster, type TestCluster } from '../support/cluster.js';

/**
 * The Swarm test cluster itself (issue 18): scripts/cluster builds three nodes, each its own
 * Docker engine in its own network namespace; a host-network service answers at its nodes'
 * addresses from this machine. The cluster is left up for the swarm tests that follow.
 */

const SERVICE = 'cluster-probe';
const LABEL = 'org.slipway.test=cluster';
const PORT = 18090;

let cluster: TestCluster;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET http://address:port/ or undefined when nothing answers. */
async function get(address: string, port: number): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch {
    return undefined;
  }
}

/** Containers of this test's services, on every node. */
async function probeContainers(): Promise<string[]> {
  const all: string[] = [];
  for (const node of cluster.nodes) {
    const out = await clusterDocker(cluster.hosts[node]!, ['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${SERVICE}`]);
    all.push(...out.split('\n').filter(Boolean));
  }
  return all;
}

async function removeProbe(): Promise<void> {
  const ids = await clusterDocker(cluster.manager, ['service', 'ls', '-q', '--filter', `label=${LABEL}`]);
  if (ids.trim()) await clusterDocker(cluster.manager, ['service', 'rm', ...ids.split('\n').filter(Boolean)]);
  // Swarm removes the tasks' containers asynchronously; the next run needs the port free.
  for (let i = 0; i < 120 && (await probeContainers()).length > 0; i++) await sleep(500);
}

beforeAll(async () => {
  cluster = await ensureCluster(3);
  await removeProbe(); // left over by a run that was killed
}, 600_000);

afterAll(async () => {
  // The cluster stays up for later swarm tests; only this test's service goes.
  if (cluster) await removeProbe();
}, 120_000);

test("three nodes are Ready, and a host-network service answers at each of its nodes' addresses", async () => {
  const nodes = await clusterDocker(cluster.manager, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}}']);
  expect(nodes.split('\n').sort()).toEqual(['slipway-n1 Ready Active', 'slipway-n2 Ready Active', 'slipway-n3 Ready Active']);

  // Each task serves its node's hostname on PORT, so the answer says which node served it.
  await clusterDocker(cluster.manager, [
    'service',
    'create',
    '--detach',
    '--name',
    SERVICE,
    '--label',
    LABEL,
    '--network',
    'host',
    '--replicas',
    '2',
    '--replicas-max-per-node',
    '1',
    '--env',
    `PORT=${PORT}`,
    '--no-resolve-image',
    'slipway/test-busybox:latest',
    'sh',
    '-c',
    'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p "$PORT" -h /tmp/www',
  ]);

  let running: string[] = [];
  for (let i = 0; i < 240 && running.length < 2; i++) {
    const ps = await clusterDocker(cluster.manager, ['service', 'ps', SERVICE, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}']);
    running = ps
      .split('\n')
      .filter((l) => / Running /.test(l))
      .map((l) => l.split(' ')[0]!);
    if (running.length < 2) await sleep(500);
  }
  expect(running).toHaveLength(2);
  expect(new Set(running).size).toBe(2);

  for (const node of running) {
    const address = cluster.addresses[node]!;
    let answer = await get(address, PORT);
    for (let i = 0; i < 100 && answer?.status !== 200; i++) {
      await sleep(200);
      answer = await get(address, PORT);
    }
    expect(answer).toEqual({ status: 200, body: node });
  }
  // The node without a task has nothing on PORT: each answer above came from its own node.
  const idle = cluster.nodes.find((n) => !running.includes(n))!;
  expect(await get(cluster.addresses[idle]!, PORT)).toBeUndefined();

  await removeProbe();
  expect(await clusterDocker(cluster.manager, ['service', 'ls', '-q', '--filter', `label=${LABEL}`])).toBe('');
  expect(await probeContainers()).toEqual([]);
  for (const node of running) expect(await get(cluster.addresses[node]!, PORT)).toBeUndefined();
}, 180_000);
