import type { Writable } from 'node:stream';

/** Everything Slipway asks of a container engine. Only `runtime/` implements it. */
export interface Runtime {
  /** Throws RuntimeUnavailableError when the engine does not answer. */
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** The image's content id (changes when it is rebuilt) and labels; null when there is none. */
  imageInfo(image: string): Promise<{ id: string; labels: Record<string, string> } | null>;
  buildImage(request: BuildRequest, onLine: (line: string) => void): Promise<void>;
  removeImage(image: string): Promise<void>;
  /** Creates and starts a long-running container. */
  startContainer(spec: ContainerSpec): Promise<ContainerRef>;
  /**
   * Resolves with the exit code once the container stops running. A wait is a request held open
   * on the engine: `signal` ends it (rejecting) when the answer is no longer wanted.
   */
  waitForExit(container: ContainerRef, signal?: AbortSignal): Promise<number>;
  /** The last `lines` lines the container printed (stdout and stderr). */
  tailLogs(container: ContainerRef, lines: number): Promise<string[]>;
  /**
   * Calls `onEntry` with each line the container printed, oldest first: the last `tail` lines
   * (all when omitted) or only those after `after`; with `follow`, then each new line live
   * until the container stops or `signal` aborts. A missing container has no lines.
   */
  readLogs(container: ContainerRef, options: LogReadOptions, onEntry: (entry: LogEntry) => void, signal: AbortSignal): Promise<void>;
  /**
   * Runs a one-off container to completion, streaming its output line by line, and removes
   * it. A run that outlives `timeoutMs` is killed and reported as timed out.
   */
  runOneOff(spec: ContainerSpec, onLine: (line: string) => void, timeoutMs: number): Promise<OneOffResult>;
  /**
   * Creates and starts a one-off whose stdin and output stay connected to the caller (`slipway
   * run`); the container is removed once it has ended and its output was read, or was killed.
   */
  attachOneOff(spec: ContainerSpec): Promise<AttachedOneOff>;
  /** SIGTERM, then SIGKILL after `graceMs`; the container stays. Missing or stopped ones are not an error. */
  stop(container: ContainerRef, graceMs: number): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`, then removal. Missing containers are not an error. */
  stopAndRemove(container: ContainerRef, graceMs: number): Promise<void>;
  /** Containers carrying all the given labels, running or not. */
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /** The same, with how often each was restarted and since when it runs (one inspect each). */
  describeContainers(labels: Record<string, string>): Promise<ContainerStatus[]>;
  /** A running container's CPU and memory use now (the engine's stats); null when it is not running or gone. */
  containerStats(container: ContainerRef): Promise<ContainerStats | null>;
  /**
   * Calls `onEvent` whenever a container carrying the labels starts or dies, until the
   * returned function is called. Survives engine restarts by reconnecting.
   */
  watch(labels: Record<string, string>, onEvent: (event: ContainerEvent) => void): () => void;
  /**
   * The registry the engine's machines pull built images from, or null when the engine that
   * builds is the one that runs them (one Docker engine: nothing to push).
   */
  readonly registry: string | null;
  /** Pushes a built image to `registry` so every machine can pull it; the image's size in bytes. */
  pushImage(image: string): Promise<number>;
  /**
   * Where a long-running container runs: the address its host-network ports answer at (127.0.0.1
   * on one engine) and, on a swarm, its node, once the task is placed (throws when no node takes
   * it before `signal` aborts).
   */
  placementOf(container: ContainerRef, signal: AbortSignal): Promise<Placement>;
  /** The machines that run containers: one for one engine, every node of a swarm. */
  nodes(): Promise<NodeInfo[]>;
}

export interface Placement {
  host: string;
  /** The swarm node's name; absent on one engine. */
  node?: string;
}

export interface NodeInfo {
  name: string;
  /** Where its containers' host-network ports answer. */
  address: string;
  /** `manager` or `worker` on a swarm; `engine` for one Docker engine. */
  role: string;
  /** `ready`, `down`, `unknown`… as the engine says. */
  state: string;
  /** `active`, `pause` or `drain` (a swarm's); `active` for one engine. */
  availability: string;
  /** The engine Slipway talks to (DOCKER_HOST): where it builds, and where apps' storage lives. */
  local: boolean;
}

export interface ContainerStats {
  /** CPU used since the engine's previous sample, in % of one core (200: two cores busy). */
  cpuPercent: number;
  /** Memory in use, without the reclaimable page cache (what `docker stats` shows). */
  memoryBytes: number;
  /** The container's memory limit (the host's memory when it has none). */
  memoryLimitBytes: number;
}

export interface ContainerEvent {
  action: 'start' | 'die';
  id: string;
  labels: Record<string, string>;
}

export interface LogReadOptions {
  tail?: number;
  /** Only lines strictly later than this `LogEntry.time` (to resume where a reader stopped). */
  after?: string;
  follow: boolean;
}

/** One line a container printed. */
export interface LogEntry {
  /** When the engine received it: RFC 3339 with nanoseconds, UTC. */
  time: string;
  stream: 'stdout' | 'stderr';
  /** Without its newline, not sanitised. */
  line: string;
}

export interface BuildRequest {
  /**
   * The build context as one tar archive. A buffer, not a stream: sent with a length, BuildKit
   * reads it reliably; streamed (chunked), Docker 20.10 sometimes sees an empty Dockerfile.
   */
  context: Buffer;
  tag: string;
  dockerfile: string;
  labels: Record<string, string>;
  buildArgs: Record<string, string>;
  /**
   * Readable names for the Dockerfile's steps, keyed by a marker each step's instruction
   * contains. When given, a step is announced by its name (a cached one with "(cached)") and
   * steps without one are not announced; their output still is.
   */
  steps?: readonly { marker: string; name: string }[];
}

export interface ContainerSpec {
  /** Engine-level container name; must be unique. */
  name: string;
  image: string;
  /** Run through `/bin/sh -c`. */
  command: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  limits?: ResourceLimits;
  /** Host directories bound into the container. */
  mounts?: Mount[];
  /** Keeps stdin open (an interactive one-off). */
  stdin?: boolean;
  /** Gives the command a terminal (one output stream, line editing, signals from keys), of this size if known. */
  tty?: { size?: TerminalSize };
  /** The engine restarts the command whenever it exits (with backoff), until it is stopped. */
  restart?: boolean;
}

/** A terminal's size, in character cells. */
export interface TerminalSize {
  rows: number;
  cols: number;
}

export interface Mount {
  /** Absolute host path. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
}

export interface ResourceLimits {
  memoryMb: number | null;
  cpus: number | null;
}

export interface ContainerRef {
  id: string;
  name: string;
}

export interface ContainerInfo extends ContainerRef {
  labels: Record<string, string>;
  state: string;
  /** Where its host-network ports answer (its node's address); absent: 127.0.0.1. */
  host?: string;
  /** The node it runs on (a swarm's); absent on one engine. */
  node?: string;
}

export interface ContainerStatus extends ContainerInfo {
  restartCount: number;
  /** ISO time the current run started, or null when it is not running. */
  startedAt: string | null;
  /** ISO time the last run ended, or null when it is running or never ran. */
  finishedAt: string | null;
  exitCode: number | null;
}

export interface AttachedOneOff {
  container: ContainerRef;
  /** The command's stdin; ending it is the command's end of input. */
  stdin: Writable;
  /** stdout and stderr as produced; ends after the last of it. Read it: it pauses the command when unread. */
  output: AsyncIterable<OutputChunk>;
  /** The exit code, once the command has ended, its output has been read and its container is gone. */
  exit: Promise<number>;
  /** Kills the command, drops its unread output and removes the container. */
  kill(): Promise<void>;
  /** Sets the size of its terminal (a container started with `tty`); the command gets SIGWINCH. */
  resize(size: TerminalSize): Promise<void>;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface OneOffResult {
  exitCode: number | null;
  timedOut: boolean;
}

export class RuntimeUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`The Docker engine does not answer (${cause instanceof Error ? cause.message : String(cause)}); start it (bash scripts/setup) and push again`);
    this.name = 'RuntimeUnavailableError';
  }
}

export class BuildFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildFailedError';
  }
}
