import type Docker from 'dockerode';
import type { ContainerSpec, NodeInfo } from './runtime.js';

/**
 * The pure half of the Swarm runtime: how a container spec becomes a service, and how Swarm's
 * tasks and nodes read as Slipway's containers and nodes. No engine calls here (unit-tested).
 */

/** A task as the Swarm API lists it (the fields Slipway reads). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: { Timestamp: string; State: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
  Spec?: { ContainerSpec?: { Image?: string } };
}

/** A node as the Swarm API lists it. */
export interface SwarmNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec: { Role?: string; Availability?: string };
  Status: { State?: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
}

/** A service as the Swarm API lists it. */
export interface SwarmService {
  ID: string;
  CreatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string> };
}

/** States a task never leaves. */
const ENDED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

export function taskEnded(task: SwarmTask): boolean {
  return ENDED.has(task.Status.State);
}

/** The task that stands for the service now: the newest one Swarm wants running, else the newest. */
export function currentTask(tasks: readonly SwarmTask[]): SwarmTask | undefined {
  const newestFirst = [...tasks].sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
  return newestFirst.find((t) => t.DesiredState === 'running' || t.DesiredState === 'complete') ?? newestFirst[0];
}

/** A task's state in Docker's container words (running, exited, created, restarting). */
export function containerState(current: SwarmTask | undefined, all: readonly SwarmTask[]): string {
  if (current === undefined) return 'created';
  if (current.Status.State === 'running') return 'running';
  if (taskEnded(current)) return 'exited';
  // A new task for a slot whose earlier one ended: Swarm is restarting it.
  return all.some((t) => t !== current && taskEnded(t)) ? 'restarting' : 'created';
}

/** How many times Swarm replaced the service's task (its task history, which Swarm caps at 5 per slot). */
export function restarts(tasks: readonly SwarmTask[]): number {
  return Math.max(0, tasks.length - 1);
}

/** The exit code a task that ended reports; 125 (Docker's "could not run") when it never ran. */
export function exitCodeOf(task: SwarmTask): number {
  return task.Status.ContainerStatus?.ExitCode ?? 125;
}

/**
 * The node's address for traffic to its host-network ports. A manager may report 0.0.0.0 as its
 * status address (it listens on all); its advertised manager address names the right one.
 */
export function nodeAddress(node: SwarmNode): string {
  const addr = node.Status.Addr;
  if (addr && addr !== '0.0.0.0') return addr;
  const manager = node.ManagerStatus?.Addr;
  return manager ? manager.replace(/:\d+$/, '') : (addr ?? '');
}

export function nodeInfo(node: SwarmNode, localId: string): NodeInfo {
  return {
    name: node.Description?.Hostname ?? node.ID,
    address: nodeAddress(node),
    role: node.Spec.Role ?? 'worker',
    state: node.Status.State ?? 'unknown',
    availability: node.Spec.Availability ?? 'active',
    local: node.ID === localId,
  };
}

export interface ServiceOptions {
  /** The image name the nodes pull (`<registry>/<image>`). */
  image: string;
  /** SIGTERM to SIGKILL when a task is stopped. */
  stopGraceMs: number;
  /** The node a task must run on (its storage is there), by node id. */
  pinTo?: string;
}

/**
 * A container spec as a Swarm service: one task, host networking (each task binds its own PORT
 * on its node, so no overlay network is needed), restarted by Swarm when `restart` is set. The
 * labels go on the service, not the containers: Slipway finds services by them, and the
 * manager's own engine must not mistake a task's container for a one-off of its own.
 */
export function serviceSpec(spec: ContainerSpec, options: ServiceOptions): Docker.CreateServiceOptions {
  const { limits } = spec;
  return {
    Name: spec.name,
    Labels: spec.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: options.image,
        // As on one engine: Procfile commands are shell command lines, whatever the image's entrypoint.
        Command: ['/bin/sh', '-c'],
        Args: [spec.command],
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Init: true,
        // No capability at all, as on one engine (docker.ts says why). Swarm's API 1.41 has no
        // no-new-privileges switch; without capabilities a setuid binary gains little.
        CapabilityDrop: ['ALL'],
        StopGracePeriod: options.stopGraceMs * 1e6,
        ...(spec.mounts?.length ? { Mounts: spec.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target })) } : {}),
      },
      Networks: [{ Target: 'host' }],
      RestartPolicy: spec.restart ? { Condition: 'any', Delay: 1e9, MaxAttempts: 0 } : { Condition: 'none' },
      Resources: {
        Limits: {
          ...(limits?.memoryMb ? { MemoryBytes: limits.memoryMb * 1024 * 1024 } : {}),
          ...(limits?.cpus ? { NanoCPUs: Math.round(limits.cpus * 1e9) } : {}),
        },
      },
      ...(options.pinTo ? { Placement: { Constraints: [`node.id==${options.pinTo}`] } } : {}),
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '3' } },
    },
    // A one-off is one task that is never restarted, not a Swarm job: on Docker 20.10 a job's
    // containers outlive its removed service on their nodes, where a service's go with it.
    Mode: { Replicated: { Replicas: 1 } },
  };
}

/** `slipway/web:3` as the nodes pull it: `<registry>/slipway/web:3`. */
export function registryImage(registry: string, image: string): string {
  return `${registry}/${image}`;
}

/** `<registry>/slipway/web:3` pinned to what was pushed: `<registry>/slipway/web:3@sha256:…`. */
export function pinnedImage(remote: string, digest: string): string {
  return `${remote.replace(/@.*$/, '')}@${digest}`;
}

/** The digest of `remote`'s repository among an image's RepoDigests (`<repo>@sha256:…`), if any. */
export function digestIn(repoDigests: readonly string[], remote: string): string | undefined {
  const at = remote.lastIndexOf(':');
  const repo = at > remote.lastIndexOf('/') ? remote.slice(0, at) : remote;
  const entry = repoDigests.find((d) => d.startsWith(`${repo}@`));
  return entry?.slice(repo.length + 1);
}

/**
 * A node that runs a task of `image` (or was given one: it is pulling it) and takes new tasks
 * (ready, active): a one-off placed there starts without pulling the image. Any state short of
 * the end counts, since the manager hears "running" after the task already answers. Undefined
 * when no such node is known.
 */
export function nodeWithImage(tasks: readonly SwarmTask[], nodes: ReadonlyMap<string, SwarmNode>, image: string): string | undefined {
  const candidates = tasks
    .filter((t) => t.DesiredState === 'running' && !taskEnded(t) && t.Spec?.ContainerSpec?.Image === image && t.NodeID !== undefined)
    .map((t) => nodes.get(t.NodeID!))
    .filter((n): n is SwarmNode => n !== undefined && n.Status.State === 'ready' && (n.Spec.Availability ?? 'active') === 'active')
    .map((n) => n.ID)
    .sort();
  return candidates[0];
}

/** `<registry>/slipway/web:3` (or `…@sha256:…`) without its tag and digest: `<registry>/slipway/web`. */
export function repositoryOf(image: string): string {
  const bare = image.replace(/@.*$/, '');
  const colon = bare.lastIndexOf(':');
  return colon > bare.lastIndexOf('/') ? bare.slice(0, colon) : bare;
}

/**
 * The image a node cleanup runs: one a task of the same app runs now (so every node can pull
 * it, and it has the /bin/sh and chroot a Procfile image has), never the image being removed.
 */
export function cleanupImage(tasks: readonly SwarmTask[], remote: string): string | undefined {
  const repo = repositoryOf(remote);
  return tasks
    .filter((t) => t.DesiredState === 'running' && t.Status.State === 'running')
    .map((t) => t.Spec?.ContainerSpec?.Image)
    .find((image): image is string => image !== undefined && repositoryOf(image) === repo && image.replace(/@.*$/, '') !== remote.replace(/@.*$/, ''));
}

/**
 * One task on every node that removes `refs` from that node's engine with the node's own docker
 * CLI: the task enters the host's root (read-only) and runs `docker image rm` there. An image
 * a node never pulled, or one a container there still uses, is left as it is.
 */
export function cleanupSpec(image: string, refs: readonly string[], nodeDockerHost: string): Docker.CreateServiceOptions {
  const quoted = refs.map((r) => `'${r.replace(/'/g, `'\\''`)}'`).join(' ');
  return {
    Name: `slipway-image-cleanup-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    Labels: { 'slipway.role': 'cleanup' },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        User: '0',
        Command: ['/bin/sh', '-c'],
        Args: [`for ref in ${quoted}; do chroot /host docker image rm "$ref" >/dev/null 2>&1 || true; done`],
        Env: [`DOCKER_HOST=${nodeDockerHost}`],
        Mounts: [{ Type: 'bind', Source: '/', Target: '/host', ReadOnly: true }],
      },
      Networks: [{ Target: 'host' }],
      RestartPolicy: { Condition: 'none' },
    },
    Mode: { Global: {} },
  };
}

/** Thrown when the registry refuses to delete a manifest; the message says how to allow it. */
export class RegistryDeleteError extends Error {}

/** The registry API's manifest kinds an engine pushes (Docker's v2, OCI's), for a HEAD by tag. */
const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');

/**
 * The digest the registry serves for `remote`'s tag (its Docker-Content-Digest header), or
 * undefined when it has no such tag; HTTPS first, then plain HTTP, like deleteManifest.
 */
export async function manifestDigest(registry: string, remote: string, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  const bare = remote.replace(/@.*$/, '');
  const colon = bare.lastIndexOf(':');
  const tag = colon > bare.lastIndexOf('/') ? bare.slice(colon + 1) : 'latest';
  const name = repositoryOf(remote).slice(registry.length + 1);
  let lastError: unknown;
  for (const scheme of ['https', 'http']) {
    let response: Response;
    try {
      response = await fetcher(`${scheme}://${registry}/v2/${name}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: MANIFEST_TYPES },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      lastError = error;
      continue;
    }
    await response.body?.cancel();
    if (response.status === 200) return response.headers.get('docker-content-digest') ?? undefined;
    if (response.status === 404) return undefined;
    throw new RegistryDeleteError(`the registry ${registry} answered ${response.status} when asked for ${name}:${tag}`);
  }
  throw new RegistryDeleteError(
    `the registry ${registry} could not be reached to find ${name}:${tag} (${lastError instanceof Error ? lastError.message : String(lastError)})`,
  );
}

/**
 * Deletes a manifest by digest (the registry API's DELETE /v2/<name>/manifests/<digest>); its
 * blobs stay until the registry's garbage collection. HTTPS first, then plain HTTP, as an
 * engine does for a registry it is told is insecure. A manifest already gone is fine.
 */
export async function deleteManifest(registry: string, remote: string, digest: string, fetcher: typeof fetch = fetch): Promise<void> {
  const name = repositoryOf(remote).slice(registry.length + 1);
  let lastError: unknown;
  for (const scheme of ['https', 'http']) {
    let response: Response;
    try {
      response = await fetcher(`${scheme}://${registry}/v2/${name}/manifests/${digest}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      lastError = error;
      continue;
    }
    await response.body?.cancel();
    if (response.status === 202 || response.status === 200 || response.status === 404) return;
    if (response.status === 405) {
      throw new RegistryDeleteError(
        `the registry ${registry} does not allow deleting images: enable it (for the registry:2 image, REGISTRY_STORAGE_DELETE_ENABLED=true; in its config.yml, storage: delete: enabled: true)`,
      );
    }
    throw new RegistryDeleteError(`the registry ${registry} answered ${response.status} to deleting ${name}@${digest}`);
  }
  throw new RegistryDeleteError(
    `the registry ${registry} could not be reached to delete ${name}@${digest} (${lastError instanceof Error ? lastError.message : String(lastError)})`,
  );
}
