import Docker from 'dockerode';
import { Writable, type Duplex } from 'node:stream';
import { LineSplitter } from '../util/lines.js';
import { BuildKitProgress } from './buildkit.js';
import { DockerDemuxer, TerminalOutput } from './demux.js';
import { DockerLogDecoder, readDockerLogs, TerminalLogDecoder, type LogQuery } from './docker-logs.js';
import { redactError } from './redact.js';
import {
  BuildFailedError,
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
  type OutputChunk,
  type Runtime,
} from './runtime.js';

/** An attach connection that delivers nothing this long after its container exited is given up. */
const ATTACH_IDLE_MS = 5000;

/** A one-off's unfinished line (a progress bar, a prompt) is shown after this long. */
const PARTIAL_LINE_FLUSH_MS = 1000;

/** Runtime backed by a Docker Engine through dockerode. Host networking only. */
export class DockerRuntime implements Runtime {
  /** The engine's client: used only inside `engine`, so no request can bypass its translation. */
  readonly #docker: Docker;

  constructor(docker: Docker = new Docker()) {
    this.#docker = docker;
  }

  /**
   * The one way to the engine. Every request (and every stream read from it) runs inside, so an
   * unreachable engine is reported the same way whichever method met it: one typed error whose
   * message says how to bring the engine back. The engine's own answers (404, 409…) pass as they are.
   */
  private async engine<T>(request: (docker: Docker) => Promise<T>): Promise<T> {
    try {
      return await request(this.#docker);
    } catch (error) {
      throw engineUnreachable(error) ? new RuntimeUnavailableError(error) : error;
    }
  }

  async ping(): Promise<void> {
    try {
      await this.engine((docker) => docker.ping());
    } catch (error) {
      // Whatever answers other than OK is not an engine Slipway can use.
      throw error instanceof RuntimeUnavailableError ? error : new RuntimeUnavailableError(error);
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.engine((docker) => docker.getImage(image).inspect());
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async imageInfo(image: string): Promise<{ id: string; labels: Record<string, string> } | null> {
    try {
      const info = (await this.engine((docker) => docker.getImage(image).inspect())) as { Id: string; Config?: { Labels?: Record<string, string> | null } };
      return { id: info.Id, labels: info.Config?.Labels ?? {} };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async buildImage(request: BuildRequest, onLine: (line: string) => void): Promise<void> {
    // The types omit it, but dockerode hands a Buffer to the engine as a body with a length.
    const context = request.context as unknown as NodeJS.ReadableStream;
    const lines = new LineSplitter(onLine);
    const progress = new BuildKitProgress((text) => lines.write(text), request.steps);
    let failure: string | undefined;
    await this.engine(async (docker) => {
      const stream = await docker.buildImage(context, {
        t: request.tag,
        dockerfile: request.dockerfile,
        labels: request.labels,
        buildargs: request.buildArgs,
        networkmode: 'host',
        // BuildKit: about twice as fast here as the legacy builder, and labels cost no extra step.
        version: '2',
      } as Docker.ImageBuildOptions);
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: { id?: string; aux?: unknown; stream?: string; error?: string; errorDetail?: { message?: string } }) => {
            if (event.id === 'moby.buildkit.trace' && typeof event.aux === 'string') progress.write(event.aux);
            else if (event.stream && !/^Successfully tagged /.test(event.stream)) lines.write(event.stream);
            if (event.error) failure = event.errorDetail?.message ?? event.error;
          },
        );
      });
    });
    lines.end();
    if (failure !== undefined) throw new BuildFailedError(failure.trim());
  }

  async removeImage(image: string): Promise<void> {
    try {
      await this.engine((docker) => docker.getImage(image).remove({ force: true }));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async startContainer(spec: ContainerSpec): Promise<ContainerRef> {
    const id = await this.create(spec);
    try {
      await this.start(id, spec);
    } catch (error) {
      await this.remove(id);
      throw error;
    }
    return { id, name: spec.name };
  }

  async waitForExit(ref: ContainerRef, signal?: AbortSignal): Promise<number> {
    const result = (await this.engine((docker) => docker.getContainer(ref.id).wait(signal ? { abortSignal: signal } : {}))) as { StatusCode: number };
    return result.StatusCode;
  }

  async tailLogs(ref: ContainerRef, lines: number): Promise<string[]> {
    const out: string[] = [];
    await this.readLogs(ref, { tail: lines, follow: false }, (entry) => out.push(entry.line), new AbortController().signal);
    return out.slice(-lines);
  }

  async readLogs(ref: ContainerRef, options: LogReadOptions, onEntry: (entry: LogEntry) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    let terminal: boolean;
    try {
      terminal = ((await this.engine((docker) => docker.getContainer(ref.id).inspect())) as { Config: { Tty: boolean } }).Config.Tty;
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw error;
    }
    // A container with a terminal has one raw stream; any other, Docker's multiplexed frames.
    const decoder = terminal ? new TerminalLogDecoder(onEntry) : new DockerLogDecoder(onEntry);
    try {
      // The stream is read inside the engine's boundary too.
      await this.engine(async (docker) => {
        const container = docker.getContainer(ref.id);
        // dockerode types the call by `follow`'s literal value; the reader handles both answers.
        const logs = (query: LogQuery) => (query.follow ? container.logs({ ...query, follow: true }) : container.logs({ ...query, follow: false }));
        await readDockerLogs(logs, options, terminal ? new TerminalOutput() : new DockerDemuxer(), decoder, signal);
      });
      decoder.end();
    } catch (error) {
      // Removed meanwhile, or the reader went away: either way there is nothing more to read.
      if (statusOf(error) === 404 || signal.aborted) return;
      throw error;
    }
  }

  async runOneOff(spec: ContainerSpec, onLine: (line: string) => void, timeoutMs: number): Promise<OneOffResult> {
    const id = await this.create(spec);
    const container = this.container(id);
    try {
      const attached = (await container((c) => c.attach({ stream: true, stdout: true, stderr: true }))) as NodeJS.ReadableStream;
      const lines = new LineSplitter(onLine, 8192, PARTIAL_LINE_FLUSH_MS);
      // stdout and stderr go to the same place, in the order they arrive.
      const output = attached.pipe(new DockerDemuxer());
      output.on('data', (chunk: OutputChunk) => lines.write(chunk.data));
      const drained = new Promise<void>((resolve) => {
        output.on('end', resolve);
        attached.on('close', resolve);
        attached.on('error', () => resolve());
      });

      await this.start(id, spec);
      // Asked after the start: "not-running" answers at once if the command already ended,
      // where a "next-exit" wait sent before the start can miss an exit that beats it.
      const exited = container((c) => c.wait({ condition: 'not-running' }) as Promise<{ StatusCode: number }>);

      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        await container((c) => c.kill()).catch(() => undefined);
        await exited.catch(() => undefined);
      }
      await Promise.race([drained, delay(2000)]);
      lines.end();
      return outcome === 'timeout' ? { exitCode: null, timedOut: true } : { exitCode: outcome.StatusCode, timedOut: false };
    } finally {
      await this.remove(id);
    }
  }

  async attachOneOff(spec: ContainerSpec): Promise<AttachedOneOff> {
    const id = await this.create({ ...spec, stdin: true });
    const container = this.container(id);
    const remove = (): Promise<void> => this.remove(id);
    let attached: Duplex;
    try {
      // Hijacked: the one connection carries stdin up and the multiplexed output down.
      attached = (await container((c) => c.attach({ stream: true, hijack: true, stdin: true, stdout: true, stderr: true }))) as Duplex;
    } catch (error) {
      await remove();
      throw error;
    }
    attached.on('error', () => undefined);
    // With a terminal, Docker sends the output as the terminal shows it, in one raw stream.
    const output = spec.tty ? new TerminalOutput() : new DockerDemuxer();
    attached.pipe(output);
    // A connection that drops without an end still ends the output.
    attached.on('close', () => {
      if (!output.writableEnded) output.end();
    });
    const outputDone = new Promise<void>((resolve) => {
      output.on('end', resolve);
      output.on('close', resolve);
    });
    try {
      await this.start(id, spec);
      // This engine sizes a terminal only once its container runs (the command waits for it).
      const size = spec.tty?.size;
      if (size) await container((c) => c.resize({ h: size.rows, w: size.cols }));
    } catch (error) {
      attached.destroy();
      await remove();
      throw error;
    }
    // Asked after the start, like runOneOff: "not-running" answers at once if it already ended.
    const exited = container((c) => c.wait({ condition: 'not-running' }) as Promise<{ StatusCode: number }>);
    const exit = (async (): Promise<number> => {
      try {
        const { StatusCode } = await exited;
        await Promise.race([outputDone, endWhenStuck(attached)]);
        return StatusCode;
      } finally {
        attached.destroy();
        await remove();
      }
    })();
    // Callers learn of a failure by awaiting it; it must not surface as an unhandled rejection first.
    exit.catch(() => undefined);
    const stdin = new Writable({
      // Each chunk is done when the engine took it: a fast writer waits for a slow reader.
      write: (chunk: Buffer, _encoding, callback) => void attached.write(chunk, () => callback()),
      // Half-closing the connection is how Docker learns of the end of input (StdinOnce).
      final: (callback) => void attached.end(() => callback()),
    });
    // Input that arrives after the command stopped reading goes nowhere, silently.
    stdin.on('error', () => undefined);
    return {
      container: { id, name: spec.name },
      stdin,
      output,
      exit,
      kill: async () => {
        await container((c) => c.kill()).catch(() => undefined);
        output.destroy();
        attached.destroy();
        await exit.then(
          () => undefined,
          () => undefined,
        );
      },
      resize: async ({ rows, cols }) => {
        await container((c) => c.resize({ h: rows, w: cols }));
      },
    };
  }

  /** Creates the container; its id. An engine error comes without the environment's values (redact.ts). */
  private async create(spec: ContainerSpec): Promise<string> {
    try {
      return (await this.engine((docker) => docker.createContainer(createOptions(spec)))).id;
    } catch (error) {
      throw redactError(error, spec.env);
    }
  }

  /** Starts the container; an engine error comes without the environment's values (redact.ts). */
  private async start(id: string, spec: ContainerSpec): Promise<void> {
    try {
      await this.engine((docker) => docker.getContainer(id).start());
    } catch (error) {
      throw redactError(error, spec.env);
    }
  }

  /** Requests about one container, each through the engine's boundary. */
  private container(id: string): <T>(request: (container: Docker.Container) => Promise<T>) => Promise<T> {
    return (request) => this.engine((docker) => request(docker.getContainer(id)));
  }

  /** Removes a container this runtime created, whatever state it is in; a failure is not the caller's concern. */
  private async remove(id: string): Promise<void> {
    await this.engine((docker) => docker.getContainer(id).remove({ force: true })).catch(() => undefined);
  }

  /** Stops the container; false when it does not exist. */
  private async stopped(ref: ContainerRef, graceMs: number): Promise<boolean> {
    try {
      await this.engine((docker) => docker.getContainer(ref.id).stop({ t: Math.ceil(graceMs / 1000) }));
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return false;
      if (status !== 304) throw error; // 304: already stopped
    }
    return true;
  }

  async stop(ref: ContainerRef, graceMs: number): Promise<void> {
    await this.stopped(ref, graceMs);
  }

  async stopAndRemove(ref: ContainerRef, graceMs: number): Promise<void> {
    if (!(await this.stopped(ref, graceMs))) return;
    try {
      await this.engine((docker) => docker.getContainer(ref.id).remove({ force: true }));
    } catch (error) {
      // 409: removal already in progress.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  }

  async containerStats(ref: ContainerRef): Promise<ContainerStats | null> {
    let stats: EngineStats;
    try {
      // One sample (not a stream); the engine waits for a second one to give the CPU delta.
      stats = (await this.engine((docker) => docker.getContainer(ref.id).stats({ stream: false }))) as unknown as EngineStats;
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 409) return null;
      throw error;
    }
    return statsFrom(stats);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const list = await this.engine((docker) =>
      docker.listContainers({
        all: true,
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      }),
    );
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      labels: c.Labels,
      state: c.State,
    }));
  }

  async describeContainers(labels: Record<string, string>): Promise<ContainerStatus[]> {
    const list = await this.listContainers(labels);
    const described = await Promise.all(
      list.map(async (c): Promise<ContainerStatus | undefined> => {
        try {
          const info = await this.engine((docker) => docker.getContainer(c.id).inspect());
          const running = info.State.Running || info.State.Restarting;
          return {
            ...c,
            state: info.State.Restarting ? 'restarting' : info.State.Status,
            restartCount: info.RestartCount,
            startedAt: running ? info.State.StartedAt : null,
            finishedAt: running || info.State.FinishedAt.startsWith('0001-') ? null : info.State.FinishedAt,
            exitCode: running ? null : info.State.ExitCode,
          };
        } catch (error) {
          if (statusOf(error) === 404) return undefined; // removed meanwhile
          throw error;
        }
      }),
    );
    return described.filter((c): c is ContainerStatus => c !== undefined);
  }

  /** One engine builds and runs: there is nothing to push. */
  readonly registry = null;

  pushImage(): Promise<number> {
    return Promise.reject(new Error('one Docker engine runs the images it builds; there is no registry to push to'));
  }

  /** Host networking on this machine's engine: every port answers on loopback. */
  placementOf(): Promise<Placement> {
    return Promise.resolve({ host: '127.0.0.1' });
  }

  async nodes(): Promise<NodeInfo[]> {
    const info = (await this.engine((docker) => docker.info())) as { Name?: string };
    return [{ name: info.Name ?? 'localhost', address: '127.0.0.1', role: 'engine', state: 'ready', availability: 'active', local: true }];
  }

  watch(labels: Record<string, string>, onEvent: (event: ContainerEvent) => void): () => void {
    let stopped = false;
    let current: NodeJS.ReadableStream | undefined;
    const connect = async (): Promise<void> => {
      while (!stopped) {
        try {
          const stream = (await this.engine((docker) =>
            docker.getEvents({
              filters: { type: ['container'], event: ['start', 'die'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
            }),
          )) as NodeJS.ReadableStream;
          current = stream;
          const lines = new LineSplitter((line) => {
            if (line.trim() === '') return;
            const event = JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
            if (event.Action === 'start' || event.Action === 'die') {
              onEvent({ action: event.Action, id: event.Actor.ID, labels: event.Actor.Attributes });
            }
          });
          await new Promise<void>((resolve) => {
            stream.on('data', (chunk: Buffer) => lines.write(chunk));
            stream.on('end', resolve);
            stream.on('close', resolve);
            stream.on('error', () => resolve());
          });
        } catch {
          // The engine is away; try again shortly.
        }
        if (!stopped) await delay(1000);
      }
    };
    void connect();
    return () => {
      stopped = true;
      (current as { destroy?: () => void } | undefined)?.destroy?.();
    };
  }
}

/** The engine's socket refuses, is missing, or dropped the connection mid-call. */
export function engineUnreachable(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: string }).code : undefined;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ESHUTDOWN';
}

function createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    // Procfile commands are shell command lines; overriding the entrypoint makes them run
    // the same way whatever the image declares.
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [spec.tty?.size ? `${AWAIT_TERMINAL_SIZE}\n${spec.command}` : spec.command],
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    AttachStdout: true,
    AttachStderr: true,
    ...(spec.stdin ? { AttachStdin: true, OpenStdin: true, StdinOnce: true } : {}),
    ...(spec.tty ? { Tty: true } : {}),
    HostConfig: {
      NetworkMode: 'host',
      // An init process forwards SIGTERM to the command and reaps zombies, so stopping is fast.
      Init: true,
      SecurityOpt: ['no-new-privileges'],
      // Every container an app gets (processes, the postdeploy hook, one-offs) holds no
      // capability at all: a web process on a port above 1024 needs none, and NET_RAW (in
      // Docker's defaults) would let it capture loopback traffic, tokens included, on the host
      // network. Root in the image stays uid 0 but cannot override file modes, chown, change
      // user, open raw or packet sockets, or signal other users' processes.
      CapDrop: ['ALL'],
      RestartPolicy: { Name: spec.restart ? 'unless-stopped' : 'no' },
      ...(spec.limits?.memoryMb ? { Memory: spec.limits.memoryMb * 1024 * 1024, MemorySwap: spec.limits.memoryMb * 1024 * 1024 } : {}),
      ...(spec.limits?.cpus ? { NanoCpus: Math.round(spec.limits.cpus * 1e9) } : {}),
      ...(spec.mounts?.length ? { Binds: spec.mounts.map((m) => `${m.source}:${m.target}`) } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
}

/**
 * Docker before API 1.42 cannot create a terminal with a size: it is set once the container runs,
 * and a command that read it first would see 0 × 0. A command given a terminal of a known size
 * therefore waits for it first (at most 2 s; at once where `stty` is missing).
 */
const AWAIT_TERMINAL_SIZE = [
  'if command -v stty >/dev/null 2>&1; then slipway_n=0; while [ $slipway_n -lt 40 ]; do',
  'case "$(stty size 2>/dev/null)" in [1-9]*" "[1-9]*) break ;; esac;',
  'sleep 0.05 2>/dev/null || break; slipway_n=$((slipway_n + 1)); done; unset slipway_n; fi',
].join(' ');

/** The part of the engine's stats document Slipway reads (cgroup v1 and v2). */
interface EngineStats {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

/** As `docker stats` computes them; null for a container that is not running (no usage at all). */
export function statsFrom(stats: EngineStats): ContainerStats | null {
  const memory = stats.memory_stats;
  if (memory?.usage === undefined) return null;
  // cgroup v2 names the page cache inactive_file, v1 total_inactive_file (docker CLI's rule).
  const cache = memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? 0;
  const cpu = stats.cpu_stats;
  const pre = stats.precpu_stats;
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const cpus = cpu?.online_cpus ?? 1;
  const cpuPercent = pre?.system_cpu_usage !== undefined && systemDelta > 0 && cpuDelta >= 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
  return { cpuPercent: Math.round(cpuPercent * 100) / 100, memoryBytes: Math.max(0, memory.usage - cache), memoryLimitBytes: memory.limit ?? 0 };
}

export function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'statusCode' in error ? (error as { statusCode?: number }).statusCode : undefined;
}

/**
 * Resolves when an attach connection still open after its container exited has stopped
 * delivering: the engine normally closes it at once, but nothing must wait on it forever.
 * A reader that applies backpressure is not taken for a stuck connection.
 */
function endWhenStuck(attached: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let received = 0;
    attached.on('data', (chunk: Buffer) => (received += chunk.length));
    let seen = -1;
    const timer = setInterval(() => {
      if (attached.destroyed || (received === seen && !attached.isPaused())) {
        clearInterval(timer);
        resolve();
      }
      seen = received;
    }, ATTACH_IDLE_MS);
    timer.unref();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
