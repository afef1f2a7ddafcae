import Docker from 'dockerode';
import { LineSplitter } from '../util/lines.js';
import { DockerDemuxer } from './demux.js';
import { DockerRuntime, engineUnreachable, statusOf } from './docker.js';
import { DockerLogDecoder, readDockerLogs } from './docker-logs.js';
import { redactError } from './redact.js';
import {
  currentTask,
  digestIn,
  pinnedImage,
  containerState,
  exitCodeOf,
  nodeAddress,
  nodeInfo,
  nodeWithImage,
  cleanupImage,
  cleanupSpec,
  deleteManifest,
  manifestDigest,
  registryImage,
  restarts,
  serviceSpec,
  taskEnded,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
} from './swarm-spec.js';
import {
  RuntimeUnavailableError,
  type AttachedOneOff,
  type BuildRequest,
  type ContainerEvent,
  type ContainerInfo,
  type ContainerRef,
  type ContainerSpec,
  type ContainerStatus,
  type ContainerStats,
  type LogEntry,
  type LogReadOptions,
  type NodeInfo,
  type OneOffResult,
  type Placement,
  type Runtime,
} from './runtime.js';

/** How often the manager is asked for the swarm's tasks while something watches them. */
const POLL_MS = 500;
/**
 * …and while a deployment waits on one (a placement, a hook's end, a removal): its next step
 * waits for this. A snapshot costs the manager three list requests (a few ms), and urgent waits
 * last as long as Swarm takes to act (about half a second), so a short pause is cheap.
 */
const URGENT_POLL_MS = 30;
/** How long a new task may wait for a node before the start is given up. */
const PLACEMENT_MS = 60_000;
/** How long a one-off placed beside its image may wait for that node before it goes to any node. */
const ONE_OFF_NEAR_MS = 5_000;
/** How long the nodes may take to remove an old image before Slipway stops waiting for them. */
const CLEANUP_MS = 60_000;
/** The label Swarm gives its tasks' containers. */
const SWARM_TASK_LABEL = 'com.docker.swarm.task.id';
/** A one-off's unfinished line (a progress bar, a prompt) is shown after this long. */
const PARTIAL_LINE_FLUSH_MS = 1000;

/** Thrown at start when DOCKER_HOST's engine cannot place services. */
export class NotASwarmManagerError extends Error {
  constructor(state: string) {
    super(
      `The engine at DOCKER_HOST is not a Docker Swarm manager (its swarm state is "${state}"); run "docker swarm init" there, or point DOCKER_HOST at a manager, or start Slipway with --engine docker`,
    );
    this.name = 'NotASwarmManagerError';
  }
}

/** The swarm as the manager last described it. */
interface Snapshot {
  services: SwarmService[];
  tasks: SwarmTask[];
  nodes: Map<string, SwarmNode>;
}

export interface SwarmRuntimeOptions {
  /** host:port of the registry every node pulls from. */
  registry: string;
  /** SIGTERM to SIGKILL for a task that is stopped (Swarm fixes it when the service is created). */
  stopGraceMs: number;
  /** Each node's engine as its own docker CLI reaches it (DOCKER_HOST; Swarm templates allowed). */
  nodeDockerHost?: string;
}

/**
 * Runtime on a Docker Swarm, through the manager's engine (DOCKER_HOST). Each of Slipway's
 * long-running containers is a service of one task, so Swarm places it, restarts it and moves it
 * off a node that fails; a postdeploy hook is a service whose one task is never restarted. Images are built on the manager and
 * pushed to the registry. `slipway run`'s attached one-offs run on the manager's engine itself:
 * a Swarm task has no stdin to attach to.
 */
export class SwarmRuntime implements Runtime {
  readonly #docker: Docker;
  /** The manager's own engine: builds, images, attached one-offs. */
  readonly #local: DockerRuntime;
  readonly registry: string;
  readonly #stopGraceMs: number;
  readonly #nodeDockerHost: string;
  #managerNode: Promise<string> | undefined;
  /** Each pushed image as the nodes run it, pinned to its digest (`<registry>/<image>@sha256:…`). */
  readonly #pinned = new Map<string, Promise<string>>();
  #snapshot: Promise<Snapshot> | undefined;
  #snapshotAt = 0;
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();
  readonly #urgent = new Set<(snapshot: Snapshot) => void>();
  #polling = false;
  /** Ends the poll loop's current pause early. */
  #wake: (() => void) | undefined;

  constructor(options: SwarmRuntimeOptions, docker: Docker = new Docker()) {
    this.#docker = docker;
    this.#local = new DockerRuntime(docker);
    this.registry = options.registry;
    this.#stopGraceMs = options.stopGraceMs;
    this.#nodeDockerHost = options.nodeDockerHost ?? 'unix:///var/run/docker.sock';
  }

  private async engine<T>(request: (docker: Docker) => Promise<T>): Promise<T> {
    try {
      return await request(this.#docker);
    } catch (error) {
      throw engineUnreachable(error) ? new RuntimeUnavailableError(error) : error;
    }
  }

  async ping(): Promise<void> {
    await this.#local.ping();
    await this.managerNode();
  }

  /** The manager's node id (storage lives on its disk); refuses an engine that is no manager. */
  private managerNode(): Promise<string> {
    this.#managerNode ??= (async () => {
      const info = (await this.engine((docker) => docker.info())) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string } };
      const swarm = info.Swarm;
      if (swarm?.LocalNodeState !== 'active' || !swarm.ControlAvailable || !swarm.NodeID) {
        throw new NotASwarmManagerError(swarm?.LocalNodeState === 'active' ? 'a worker' : (swarm?.LocalNodeState ?? 'inactive'));
      }
      return swarm.NodeID;
    })();
    this.#managerNode.catch(() => (this.#managerNode = undefined));
    return this.#managerNode;
  }

  imageExists(image: string): Promise<boolean> {
    return this.#local.imageExists(image);
  }

  imageInfo(image: string): Promise<{ id: string; labels: Record<string, string> } | null> {
    return this.#local.imageInfo(image);
  }

  buildImage(request: BuildRequest, onLine: (line: string) => void): Promise<void> {
    return this.#local.buildImage(request, onLine);
  }

  /**
   * An image everywhere Slipway put it: the nodes' copies (pulled by digest), its manifest in
   * the registry (whose blobs the registry's garbage collection then frees), the manager's tags.
   */
  async removeImage(image: string): Promise<void> {
    const remote = registryImage(this.registry, image);
    const pinned = await this.nodeImage(image);
    const digest = pinned === remote ? undefined : pinned.slice(pinned.indexOf('@') + 1);
    await this.removeFromNodes(remote, digest);
    this.#pinned.delete(image);
    await this.#local.removeImage(remote);
    await this.#local.removeImage(image);
    // Last: a registry that refuses deletes leaves only its own copy (the error says how to allow
    // it). Without the manager's copy (gone in an earlier attempt), the registry names the digest.
    const inRegistry = digest ?? (await manifestDigest(this.registry, remote));
    if (inRegistry !== undefined) await deleteManifest(this.registry, remote, inRegistry);
  }

  /**
   * A short global service (one task per node, never restarted) removes the image from each
   * node's engine with that node's own docker CLI (the task enters the host's root): Slipway
   * talks to the manager only, and Swarm has no call for a node's images. It runs an image of
   * the same app that a task runs now, which every node can pull; with none running (the app
   * has no process left), the nodes keep their copies.
   */
  private async removeFromNodes(remote: string, digest: string | undefined): Promise<void> {
    const snapshot = await this.freshSnapshot();
    const runner = cleanupImage(snapshot.tasks, remote);
    if (runner === undefined) return;
    const refs = [remote, ...(digest === undefined ? [] : [pinnedImage(remote, digest).replace(/:[^:/@]+@/, '@')])];
    const created = (await this.engine((docker) => docker.createService(cleanupSpec(runner, refs, this.#nodeDockerHost)))) as { id?: string; ID?: string };
    const id = created.id ?? created.ID;
    if (!id) return;
    this.#snapshot = undefined;
    try {
      await this.until((s) => {
        const ready = [...s.nodes.values()].filter((n) => n.Status.State === 'ready' && (n.Spec.Availability ?? 'active') === 'active').length;
        const tasks = s.tasks.filter((t) => t.ServiceID === id);
        return tasks.length >= ready && tasks.every(taskEnded) ? true : undefined;
      }, CLEANUP_MS).catch(() => undefined);
    } finally {
      await this.removeService(id, false);
    }
  }

  async pushImage(image: string): Promise<number> {
    const remote = registryImage(this.registry, image);
    const colon = remote.lastIndexOf(':');
    const [repo, tag] = colon > remote.lastIndexOf('/') ? [remote.slice(0, colon), remote.slice(colon + 1)] : [remote, 'latest'];
    this.#pinned.delete(image);
    await this.engine((docker) => docker.getImage(image).tag({ repo, tag }));
    // The size is the local image's: asked while the layers go up.
    const size = this.engine((docker) => docker.getImage(image).inspect() as Promise<{ Size?: number }>);
    size.catch(() => undefined);
    let failure: string | undefined;
    let digest: string | undefined;
    const pushed = this.engine(async (docker) => {
      // The engine wants an auth header even for a registry without authentication.
      const stream = (await docker.getImage(repo).push({ tag, authconfig: { serveraddress: this.registry } })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: { error?: string; errorDetail?: { message?: string }; aux?: { Digest?: string } }) => {
            if (event.error) failure = event.errorDetail?.message ?? event.error;
            if (event.aux?.Digest) digest = event.aux.Digest;
          },
        );
      });
    });
    try {
      await pushed;
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) throw error;
      failure = error instanceof Error ? error.message : String(error);
    }
    if (failure !== undefined) {
      throw new Error(
        `Could not push ${remote} (${failure}); check that the registry ${this.registry} runs and that every node's engine trusts it (--insecure-registry for plain HTTP)`,
      );
    }
    if (digest !== undefined) this.#pinned.set(image, Promise.resolve(pinnedImage(remote, digest)));
    return (await size).Size ?? 0;
  }

  /**
   * The image as a service names it: by tag and digest, as `docker service create` does. A node
   * that has it then starts the task without asking the registry (by tag alone, each task's
   * start checks the registry for a newer one), and every task runs exactly what was pushed.
   * A tag whose digest is unknown (pushed before this server started and never inspected) is
   * looked up among the manager's repo digests; failing that, the tag alone.
   */
  private nodeImage(image: string): Promise<string> {
    let pinned = this.#pinned.get(image);
    if (pinned === undefined) {
      const remote = registryImage(this.registry, image);
      pinned = this.engine((docker) => docker.getImage(remote).inspect() as Promise<{ RepoDigests?: string[] }>).then(
        (info) => {
          const digest = digestIn(info.RepoDigests ?? [], remote);
          return digest === undefined ? remote : pinnedImage(remote, digest);
        },
        () => remote,
      );
      this.#pinned.set(image, pinned);
      // Asked again next time when it found nothing: the image may be pushed meanwhile.
      void pinned.then((name) => name === remote && this.#pinned.get(image) === pinned && this.#pinned.delete(image));
    }
    return pinned;
  }

  async startContainer(spec: ContainerSpec): Promise<ContainerRef> {
    const id = await this.createService(spec);
    return { id, name: spec.name };
  }

  /** `near`: run the task on this node (by id) unless its storage pins it to the manager. */
  private async createService(spec: ContainerSpec, near?: string): Promise<string> {
    const [storageNode, image] = await Promise.all([spec.mounts?.length ? this.managerNode() : undefined, this.nodeImage(spec.image)]);
    const pinTo = storageNode ?? near;
    const options = serviceSpec(spec, { image, stopGraceMs: this.#stopGraceMs, ...(pinTo ? { pinTo } : {}) });
    try {
      const created = (await this.engine((docker) => docker.createService(options))) as { id?: string; ID?: string };
      const id = created.id ?? created.ID;
      if (!id) throw new Error(`the manager created ${spec.name} without saying its id`);
      this.#snapshot = undefined; // the next look must see it
      return id;
    } catch (error) {
      throw redactError(error, spec.env);
    }
  }

  /** The swarm's services, tasks and nodes; one request set shared by callers within a poll. */
  private snapshot(): Promise<Snapshot> {
    if (this.#snapshot && Date.now() - this.#snapshotAt < URGENT_POLL_MS / 2) return this.#snapshot;
    this.#snapshotAt = Date.now();
    const taken = this.engine(async (docker) => {
      const [services, tasks, nodes] = await Promise.all([
        docker.listServices({ filters: { label: ['slipway.app'] } }) as unknown as Promise<SwarmService[]>,
        docker.listTasks() as unknown as Promise<SwarmTask[]>,
        docker.listNodes() as unknown as Promise<SwarmNode[]>,
      ]);
      return { services, tasks, nodes: new Map(nodes.map((n) => [n.ID, n])) };
    });
    this.#snapshot = taken;
    taken.catch(() => {
      if (this.#snapshot === taken) this.#snapshot = undefined;
    });
    return taken;
  }

  /** Calls `listener` with a fresh snapshot every POLL_MS (URGENT_POLL_MS when `urgent`) until it is removed. */
  private follow(listener: (snapshot: Snapshot) => void, urgent = false): () => void {
    this.#listeners.add(listener);
    if (urgent) this.#urgent.add(listener);
    if (!this.#polling) void this.poll();
    // An urgent wait does not sit out the rest of a slow pause.
    else if (urgent) this.#wake?.();
    return () => {
      this.#listeners.delete(listener);
      this.#urgent.delete(listener);
    };
  }

  private async poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#listeners.size > 0) {
        try {
          const snapshot = await this.snapshot();
          for (const listener of [...this.#listeners]) listener(snapshot);
        } catch {
          // The manager is away: the waiters keep waiting, and the next poll asks again.
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#urgent.size > 0 ? URGENT_POLL_MS : POLL_MS);
          timer.unref();
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * Resolves with the first snapshot `find` returns a value for; rejects after `timeoutMs` or when
   * aborted. Without a limit it is a watch (polled at the slow pace), with one an urgent wait.
   */
  private until<T>(find: (snapshot: Snapshot) => T | undefined, timeoutMs: number, signal?: AbortSignal, onTimeout?: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        stop();
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
      };
      const aborted = (): void => {
        done();
        reject(new Error('aborted'));
      };
      const stop = this.follow((snapshot) => {
        const found = find(snapshot);
        if (found !== undefined) {
          done();
          resolve(found);
        }
      }, Number.isFinite(timeoutMs));
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          done();
          reject(onTimeout?.() ?? new Error('timed out'));
        }, timeoutMs);
      }
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }

  async placementOf(ref: ContainerRef, signal: AbortSignal): Promise<Placement> {
    if (!(await this.isService(ref))) return { host: '127.0.0.1' };
    return this.until(
      (s) => {
        const task = currentTask(s.tasks.filter((t) => t.ServiceID === ref.id));
        const node = task?.NodeID ? s.nodes.get(task.NodeID) : undefined;
        return node ? { host: nodeAddress(node), node: node.Description?.Hostname ?? node.ID } : undefined;
      },
      PLACEMENT_MS,
      signal,
      () => new Error(`no node of the swarm took ${ref.name} within ${PLACEMENT_MS / 1000} s; "docker service ps ${ref.name}" on the manager says why`),
    );
  }

  async waitForExit(ref: ContainerRef, signal?: AbortSignal): Promise<number> {
    if (!(await this.isService(ref))) return this.#local.waitForExit(ref, signal);
    // The boot check stops its waits when it ends: a wait left behind would be asked at every poll.
    return this.exited(ref, Infinity, signal);
  }

  /** The exit code of the service's first task that ended (137 when the service went). */
  private exited(ref: ContainerRef, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.until(
      (s) => {
        if (!s.services.some((svc) => svc.ID === ref.id)) return 137; // removed: its task was killed
        const ended = s.tasks.find((t) => t.ServiceID === ref.id && taskEnded(t));
        return ended ? exitCodeOf(ended) : undefined;
      },
      timeoutMs,
      signal,
    );
  }

  async tailLogs(ref: ContainerRef, lines: number): Promise<string[]> {
    const out: string[] = [];
    await this.readLogs(ref, { tail: lines, follow: false }, (entry) => out.push(entry.line), new AbortController().signal);
    return out.slice(-lines);
  }

  async readLogs(ref: ContainerRef, options: LogReadOptions, onEntry: (entry: LogEntry) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    if (!(await this.isService(ref))) return this.#local.readLogs(ref, options, onEntry, signal);
    return this.readServiceLogs(ref, options, onEntry, signal);
  }

  private async readServiceLogs(ref: ContainerRef, options: LogReadOptions, onEntry: (entry: LogEntry) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const decoder = new DockerLogDecoder(onEntry);
    try {
      // The manager gathers each task's output from its node, whichever node that is.
      await this.engine(async (docker) => {
        const service = docker.getService(ref.id);
        await readDockerLogs((query) => service.logs(query), options, new DockerDemuxer(), decoder, signal);
      });
      decoder.end();
    } catch (error) {
      if (statusOf(error) === 404 || signal.aborted) return;
      throw error;
    }
  }

  /** One task on any node, never restarted, its output followed through the manager; removed at the end. */
  async runOneOff(spec: ContainerSpec, onLine: (line: string) => void, timeoutMs: number): Promise<OneOffResult> {
    const id = await this.createOneOff({ ...spec, restart: false });
    const ref = { id, name: spec.name };
    const lines = new LineSplitter(onLine, 8192, PARTIAL_LINE_FLUSH_MS);
    let last: string | undefined;
    const reading = new AbortController();
    const emit = (entry: LogEntry): void => {
      if (last !== undefined && entry.time <= last) return;
      last = entry.time;
      lines.write(`${entry.line}\n`);
    };
    const followed = this.readServiceLogs(ref, { follow: true }, emit, reading.signal).catch(() => undefined);
    let ended = false;
    try {
      const outcome = await this.exited(ref, timeoutMs).catch(() => 'timeout' as const);
      // The followed stream may lag the task's end: what it has not delivered yet is read once more.
      reading.abort();
      await followed;
      await this.readServiceLogs(ref, { follow: false, ...(last === undefined ? {} : { after: last }) }, emit, new AbortController().signal).catch(
        () => undefined,
      );
      lines.end();
      ended = outcome !== 'timeout';
      return outcome === 'timeout' ? { exitCode: null, timedOut: true } : { exitCode: outcome, timedOut: false };
    } finally {
      reading.abort();
      // A task that ended has nothing left to stop: its service goes without a wait.
      await this.removeService(id, !ended);
    }
  }

  /**
   * A one-off's service, on a node that already runs its image when there is one (a postdeploy
   * hook goes where the new web tasks run): its task then starts without a pull, which on a
   * real app is most of its start. Should that node not take the task (it left the swarm
   * meanwhile), the service is made again for any node; its task never ran, so nothing runs twice.
   */
  private async createOneOff(spec: ContainerSpec): Promise<string> {
    const [snapshot, image] = await Promise.all([this.snapshot().catch(() => undefined), this.nodeImage(spec.image)]);
    const near = snapshot === undefined || spec.mounts?.length ? undefined : nodeWithImage(snapshot.tasks, snapshot.nodes, image);
    const id = await this.createService(spec, near);
    if (near === undefined) return id;
    const assigned = await this.until((s) => (s.tasks.some((t) => t.ServiceID === id && t.NodeID) ? true : undefined), ONE_OFF_NEAR_MS).catch(() => false);
    if (assigned) return id;
    await this.removeService(id);
    return this.createService(spec);
  }

  /** `slipway run` attached: on the manager's engine, which has the image it built. */
  attachOneOff(spec: ContainerSpec): Promise<AttachedOneOff> {
    return this.#local.attachOneOff(spec);
  }

  /** A service's task is stopped (scaled to 0: the service stays, with its logs). */
  async stop(ref: ContainerRef, graceMs: number): Promise<void> {
    const service = await this.inspectService(ref);
    if (service === undefined) return this.#local.stop(ref, graceMs);
    const spec = service.Spec as Docker.ServiceSpec;
    try {
      await this.engine((docker) =>
        docker.getService(service.ID).update({ ...spec, Mode: { Replicated: { Replicas: 0 } }, version: service.Version.Index } as unknown as object),
      );
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async stopAndRemove(ref: ContainerRef, graceMs: number): Promise<void> {
    const service = await this.inspectService(ref);
    if (service === undefined) return this.#local.stopAndRemove(ref, graceMs);
    await this.removeService(service.ID);
  }

  /**
   * Removes the service and (unless its task is known to have ended) waits until its tasks have
   * stopped (SIGTERM, then SIGKILL after the grace set at creation), so its port is free again
   * when this resolves.
   */
  private async removeService(id: string, waitForStop = true): Promise<void> {
    try {
      await this.engine((docker) => docker.getService(id).remove());
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    this.#snapshot = undefined;
    if (!waitForStop) return;
    await this.until(
      (s) => (s.tasks.some((t) => t.ServiceID === id && !taskEnded(t) && t.Status.State !== 'pending') ? undefined : true),
      this.#stopGraceMs + 10_000,
    ).catch(() => undefined);
  }

  private async inspectService(ref: ContainerRef): Promise<(SwarmService & { Version: { Index: number }; Spec: object }) | undefined> {
    try {
      return (await this.engine((docker) => docker.getService(ref.id).inspect())) as SwarmService & { Version: { Index: number }; Spec: object };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async isService(ref: ContainerRef): Promise<boolean> {
    return (await this.inspectService(ref)) !== undefined;
  }

  /**
   * A service's task is measured when it runs on this node (the manager's engine sees only its
   * own containers); on another node, null: no stats rather than a wrong figure.
   */
  async containerStats(ref: ContainerRef): Promise<ContainerStats | null> {
    if (!(await this.isService(ref))) return this.#local.containerStats(ref);
    const tasks = await this.#local.listContainers({ 'com.docker.swarm.service.id': ref.id });
    const running = tasks.find((t) => t.state === 'running');
    return running === undefined ? null : this.#local.containerStats(running);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return (await this.describeContainers(labels)).map(({ id, name, labels: l, state, host, node }) => ({
      id,
      name,
      labels: l,
      state,
      ...(host === undefined ? {} : { host }),
      ...(node === undefined ? {} : { node }),
    }));
  }

  async describeContainers(labels: Record<string, string>): Promise<ContainerStatus[]> {
    const [snapshot, local] = await Promise.all([this.freshSnapshot(), this.#local.describeContainers(labels)]);
    const wanted = Object.entries(labels);
    const services = snapshot.services.filter((s) => wanted.every(([k, v]) => s.Spec.Labels?.[k] === v));
    const described = services.map((s): ContainerStatus => {
      const tasks = snapshot.tasks.filter((t) => t.ServiceID === s.ID);
      const current = currentTask(tasks);
      const node = current?.NodeID ? snapshot.nodes.get(current.NodeID) : undefined;
      const state = containerState(current, tasks);
      const running = state === 'running';
      return {
        id: s.ID,
        name: s.Spec.Name,
        labels: s.Spec.Labels ?? {},
        state,
        ...(node ? { host: nodeAddress(node), node: node.Description?.Hostname ?? node.ID } : {}),
        restartCount: restarts(tasks),
        startedAt: running && current ? current.Status.Timestamp : null,
        finishedAt: current && taskEnded(current) ? current.Status.Timestamp : null,
        exitCode: current && taskEnded(current) ? exitCodeOf(current) : null,
      };
    });
    // Swarm copies a service's labels onto its tasks' containers: those on the manager are tasks, not one-offs of its own.
    return [...described, ...local.filter((c) => c.labels[SWARM_TASK_LABEL] === undefined)];
  }

  /** A snapshot taken after the call (callers that just changed something must see it). */
  private freshSnapshot(): Promise<Snapshot> {
    this.#snapshot = undefined;
    return this.snapshot();
  }

  /**
   * Service tasks starting and ending, as container events: a `die` when the task that ran is no
   * longer running (it exited, its node went down, its service went), a `start` when a new one
   * runs. Polled from the manager: a worker's engine events never reach it.
   */
  watch(labels: Record<string, string>, onEvent: (event: ContainerEvent) => void): () => void {
    const wanted = Object.entries(labels);
    let running: Map<string, { task: string; labels: Record<string, string> }> | undefined;
    return this.follow((s) => {
      const now = new Map<string, { task: string; labels: Record<string, string> }>();
      for (const svc of s.services) {
        if (!wanted.every(([k, v]) => svc.Spec.Labels?.[k] === v)) continue;
        const task = s.tasks.find(
          (t) =>
            t.ServiceID === svc.ID && t.Status.State === 'running' && t.DesiredState === 'running' && s.nodes.get(t.NodeID ?? '')?.Status.State === 'ready',
        );
        if (task) now.set(svc.ID, { task: task.ID, labels: { ...svc.Spec.Labels, name: svc.Spec.Name } });
      }
      if (running !== undefined) {
        for (const [service, was] of running) {
          if (now.get(service)?.task !== was.task) onEvent({ action: 'die', id: service, labels: was.labels });
        }
        for (const [service, is] of now) {
          if (running.get(service)?.task !== is.task) onEvent({ action: 'start', id: service, labels: is.labels });
        }
      }
      running = now;
    });
  }

  async nodes(): Promise<NodeInfo[]> {
    const [snapshot, manager] = await Promise.all([this.freshSnapshot(), this.managerNode()]);
    return [...snapshot.nodes.values()].map((n) => nodeInfo(n, manager)).sort((a, b) => a.name.localeCompare(b.name));
  }
}
