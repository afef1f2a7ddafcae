import { execa } from 'execa';
import path from 'node:path';
import { ROOT } from './server.js';

/** The Swarm test cluster that scripts/cluster builds on this machine (issue 18). */
export interface TestCluster {
  /** Node names (also their hostnames in Swarm), node 1 first; node 1 is the manager. */
  nodes: string[];
  /** Each node's address on the cluster bridge, by node name. */
  addresses: Record<string, string>;
  /** Each node's engine endpoint (unix://…), by node name. */
  hosts: Record<string, string>;
  /** The manager's engine endpoint, for DOCKER_HOST. */
  manager: string;
  /** host:port of the registry the nodes pull from. */
  registry: string;
}

export const CLUSTER_SCRIPT = path.join(ROOT, 'scripts/cluster');
/** Debian's client: it speaks the engine's API version (1.41); a newer client may hide flags. */
export const DOCKER = '/usr/bin/docker';

/** Thrown when scripts/cluster cannot build the cluster; the message is the one sentence to read. */
export class ClusterSetupError extends Error {}

/** Parses `scripts/cluster env` (KEY=value or KEY="a b c" lines). */
export function parseClusterEnv(text: string): TestCluster {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(?:"([^"]*)"|(.*))$/.exec(line.trim());
    if (m) vars.set(m[1]!, m[2] ?? m[3] ?? '');
  }
  const need = (key: string): string => {
    const value = vars.get(key);
    if (!value) throw new ClusterSetupError(`scripts/cluster env did not print ${key}; run scripts/cluster down and up again`);
    return value;
  };
  const nodes = need('SLIPWAY_CLUSTER_NODES').split(' ');
  const addresses = need('SLIPWAY_CLUSTER_ADDRESSES').split(' ');
  const hosts = need('SLIPWAY_CLUSTER_HOSTS').split(' ');
  if (addresses.length !== nodes.length || hosts.length !== nodes.length) {
    throw new ClusterSetupError('scripts/cluster env printed lists of different lengths; run scripts/cluster down and up again');
  }
  return {
    nodes,
    addresses: Object.fromEntries(nodes.map((n, i) => [n, addresses[i]!])),
    hosts: Object.fromEntries(nodes.map((n, i) => [n, hosts[i]!])),
    manager: need('SLIPWAY_CLUSTER_MANAGER'),
    registry: need('SLIPWAY_CLUSTER_REGISTRY'),
  };
}

/**
 * Brings the test cluster up (a fast no-op when it already is) and describes it. Cold, it takes
 * ~10 s (plus a package install on a fresh machine); give the caller's hook a generous timeout.
 */
export async function ensureCluster(nodes = 3): Promise<TestCluster> {
  const up = await execa('bash', [CLUSTER_SCRIPT, 'up', '--nodes', String(nodes)], { reject: false, all: true, timeout: 540_000 });
  if (up.exitCode !== 0) {
    const reason = (up.all ?? '')
      .split('\n')
      .filter((l) => l.startsWith(' !'))
      .pop()
      ?.replace(/^ !\s*/, '');
    throw new ClusterSetupError(
      `The ${nodes}-node test cluster could not be started (scripts/cluster up ${up.timedOut ? 'timed out' : `exited ${up.exitCode}`}): ${reason ?? 'no reason printed'}` +
        `\nIts full output:\n${up.all ?? ''}`,
    );
  }
  const env = await execa('bash', [CLUSTER_SCRIPT, 'env'], { timeout: 60_000 });
  return parseClusterEnv(env.stdout);
}

/** Runs Debian's docker client against one engine of the cluster. */
export async function clusterDocker(host: string, args: string[], timeout = 60_000): Promise<string> {
  const { stdout } = await execa(DOCKER, ['-H', host, ...args], { timeout });
  return stdout;
}

/** Stops node `index`'s engine (1-based; its containers stop with it), as a failing machine would. */
export async function stopNode(index: number): Promise<void> {
  await execa('bash', [CLUSTER_SCRIPT, 'stop-node', String(index)], { timeout: 120_000 });
}

/** Starts node `index`'s engine again; it rejoins the swarm by itself. */
export async function startNode(index: number): Promise<void> {
  await execa('bash', [CLUSTER_SCRIPT, 'start-node', String(index)], { timeout: 120_000 });
}
