import { describeProbe, untilHealthy, type HealthCheck, type ProbeResult } from '../health/probe.js';
import { canConnect, waitForPort } from '../runtime/boot.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { ContainerRef, Placement, Runtime } from '../runtime/runtime.js';
import type { AppSettings, RouteTarget, Store } from '../store/store.js';
import { LABEL, type AppConfig, type AppContainers } from './containers.js';
import { DeployFailure, errorMessage, seconds } from './failure.js';
import type { DeployLog } from './log.js';

/** How long containers without a web process are watched for crashes before they count as booted. */
const NO_WEB_WATCH_MS = 2000;
const LOG_LINES_ON_FAILURE = 20;
/** One health check's limit when the app sets none. */
const HEALTHCHECK_TIMEOUT_MS = 5000;

export interface Timeouts {
  bootMs: number;
  hookMs: number;
  stopMs: number;
  drainMs: number;
}

/** What changes to an app's containers need from the router: an atomic switch and a wait for in-flight requests. */
export interface TrafficSwitch {
  switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void>;
}

/** A long-running container of a release. */
export interface ProcessContainer {
  app: string;
  ref: ContainerRef;
  type: string;
  label: string;
  port: number;
  /** Where its PORT answers: 127.0.0.1 on one engine, its node's address on a swarm. */
  host: string;
  /** The swarm node it runs on; absent on one engine. */
  node?: string;
}

export interface ProcessStart {
  app: string;
  deployment: number;
  commit: string;
  image: string;
  type: string;
  label: string;
  command: string;
  /** Defaults to containerName(); a restart's replacement needs its own (replacementName). */
  name?: string;
}

export interface ProcessesDeps {
  store: Store;
  runtime: Runtime;
  ports: PortAllocator;
  containers: AppContainers;
  traffic: TrafficSwitch;
  /** The server's defaults; an app's settings override them. */
  timeouts: Timeouts;
  /** The Host header an app's requests carry (`<app>.<domain>`), for its health checks. */
  appHost(app: string): string;
}

/**
 * The mechanics every change to an app's containers shares — a deployment, a scale, a restart:
 * start a process on a port of its own, wait until it boots, find the running ones, and retire
 * old ones (drain, SIGTERM, SIGKILL, remove).
 */
export class Processes {
  constructor(private readonly deps: ProcessesDeps) {}

  /** The app's configuration, read once for a whole deployment, scale or restart. */
  config(app: string): AppConfig {
    return { app, ...this.deps.containers.read(app), timeouts: this.timeouts(app), health: this.healthCheck(app) };
  }

  async start(p: ProcessStart, config: AppConfig): Promise<ProcessContainer> {
    const port = await this.deps.ports.allocate();
    try {
      const ref = await this.deps.runtime.startContainer(this.deps.containers.spec({ ...p, role: 'process', port }, config));
      let placement: Placement;
      try {
        placement = await this.deps.runtime.placementOf(ref, AbortSignal.timeout(config.timeouts.bootMs));
      } catch (error) {
        await this.deps.runtime.stopAndRemove(ref, 0).catch(() => undefined);
        throw new DeployFailure('timeout-error', errorMessage(error));
      }
      return { app: p.app, ref, type: p.type, label: p.label, port, ...placement };
    } catch (error) {
      this.deps.ports.release(port);
      throw error;
    }
  }

  /**
   * Resolves once every web container accepts connections and, when the app sets a
   * healthcheckPath, answers it with 2xx or 3xx; throws a DeployFailure on a crash or timeout.
   */
  async waitForBoot(containers: readonly ProcessContainer[], config: Pick<AppConfig, 'timeouts' | 'health'>, log: DeployLog): Promise<void> {
    if (containers.length === 0) return;
    const timeoutMs = config.timeouts.bootMs;
    const web = containers.filter((c) => c.type === 'web');
    const health = web.length > 0 ? config.health : undefined;
    for (const c of web) {
      log.phase(health ? `Waiting for ${c.label} to answer GET ${health.path} ${where(c)}` : `Waiting for ${c.label} to accept connections ${where(c)}`);
    }
    const lastCheck = new Map<ProcessContainer, ProbeResult>();
    const healthy = new Set<ProcessContainer>();
    if (web.length === 0) log.phase(`Watching ${containers.map((c) => c.label).join(', ')} for ${seconds(NO_WEB_WATCH_MS)}`);

    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    type Outcome = { kind: 'booted' } | { kind: 'timeout' } | { kind: 'crashed'; container: ProcessContainer; code: number };
    const booted: Promise<Outcome> = (
      web.length > 0
        ? Promise.all(
            web.map(async (c) => {
              await waitForPort(c.port, stop.signal, 20, c.host);
              if (health) await untilHealthy(c.port, health, stop.signal, (r) => lastCheck.set(c, r), 200, c.host);
              if (!stop.signal.aborted) healthy.add(c);
            }),
          )
        : new Promise((resolve) => setTimeout(resolve, NO_WEB_WATCH_MS))
    ).then(() => ({ kind: 'booted' }));
    // Each wait holds a request open on the engine: they end with the boot check (`stop`), or a
    // server would keep one per container it ever booted.
    const crashed: Promise<Outcome> = Promise.race(
      containers.map((c) =>
        this.deps.runtime.waitForExit(c.ref, stop.signal).then(
          (code): Outcome => ({ kind: 'crashed', container: c, code }),
          (error: unknown) => (stop.signal.aborted ? new Promise<Outcome>(() => undefined) : Promise.reject(error)),
        ),
      ),
    );
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    });
    try {
      const outcome = await Promise.race([booted, crashed, timedOut]);
      if (outcome.kind === 'booted') return;
      if (outcome.kind === 'crashed') {
        const lines = await this.deps.runtime.tailLogs(outcome.container.ref, LOG_LINES_ON_FAILURE);
        throw new DeployFailure(
          'crashed-error',
          `${outcome.container.label} exited with code ${outcome.code} before it booted`,
          logExcerpt(outcome.container.label, lines),
        );
      }
      const late = web.length > 0 ? web.filter((c) => !healthy.has(c)) : containers;
      const excerpts: string[] = [];
      const unhealthy = health ? late.filter((c) => lastCheck.has(c)) : [];
      if (unhealthy.length > 0) {
        for (const c of late) excerpts.push(...logExcerpt(c.label, await this.deps.runtime.tailLogs(c.ref, LOG_LINES_ON_FAILURE)));
        throw new DeployFailure(
          'timeout-error',
          `${unhealthy.map((c) => `${c.label} (port ${c.port})`).join(', ')} did not pass the health check GET ${health!.path} within ${seconds(timeoutMs)}: the last check got ${describeProbe(lastCheck.get(unhealthy[0]!)!)}; make GET ${health!.path} answer 2xx or 3xx once the app is ready, or raise the boot timeout`,
          excerpts,
        );
      }
      for (const c of late) excerpts.push(...logExcerpt(c.label, await this.deps.runtime.tailLogs(c.ref, LOG_LINES_ON_FAILURE)));
      throw new DeployFailure(
        'timeout-error',
        `${late.map((c) => `${c.label} (port ${c.port})`).join(', ')} did not accept connections within ${seconds(timeoutMs)}; make the web process listen on $PORT, or raise the boot timeout`,
        excerpts,
      );
    } finally {
      stop.abort();
      clearTimeout(timer);
    }
  }

  /**
   * Right before the router moves: every new container still runs, was never restarted (one
   * that died during the boot wait or the hook and came back is not a release to switch to),
   * and every web one still accepts connections. Throws a DeployFailure with its last lines.
   */
  async checkAlive(app: string, deployment: number, created: readonly ProcessContainer[], during: string): Promise<void> {
    const states = new Map(
      (await this.deps.runtime.describeContainers({ [LABEL.app]: app, [LABEL.deployment]: String(deployment), [LABEL.role]: 'process' })).map((c) => [c.id, c]),
    );
    for (const c of created) {
      const state = states.get(c.ref.id);
      let problem: string | undefined;
      if (!state) problem = `${c.label} was removed ${during}`;
      else if (state.state !== 'running' || state.restartCount > 0) {
        const exited = state.exitCode === null ? 'exited' : `exited with code ${state.exitCode}`;
        problem =
          state.restartCount > 0
            ? `${c.label} ${state.state === 'running' ? 'exited' : exited} ${during} (restarted ${state.restartCount} time${state.restartCount === 1 ? '' : 's'} since it booted)`
            : `${c.label} ${exited} ${during}`;
      } else if (c.type === 'web' && !(await canConnect(c.port, c.host))) {
        problem = `${c.label} stopped accepting connections on port ${c.port} ${during}`;
      }
      if (problem !== undefined) {
        const lines = state ? await this.deps.runtime.tailLogs(c.ref, LOG_LINES_ON_FAILURE) : [];
        throw new DeployFailure('crashed-error', `${problem}; the release is not switched to`, logExcerpt(c.label, lines));
      }
    }
  }

  /** The app's long-running containers whose labels pass `filter`, in label order (web-1, web-2, web-10). */
  async list(app: string, filter: (labels: Record<string, string>) => boolean = () => true): Promise<ProcessContainer[]> {
    const list = await this.deps.runtime.listContainers({ [LABEL.app]: app, [LABEL.role]: 'process' });
    return list
      .filter((c) => filter(c.labels))
      .map((c) => ({
        app,
        ref: { id: c.id, name: c.name },
        type: c.labels[LABEL.type] ?? '',
        label: c.labels[LABEL.container] ?? c.name,
        port: Number(c.labels[LABEL.port] ?? 0),
        host: c.host ?? '127.0.0.1',
        ...(c.node === undefined ? {} : { node: c.node }),
      }))
      .sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
  }

  /** Drains the web ones, then stops and removes them all, in parallel. */
  async retire(old: readonly ProcessContainer[], timeouts: Timeouts, log: DeployLog, what = ''): Promise<void> {
    if (old.length === 0) return;
    const { drainMs, stopMs } = timeouts;
    log.phase(`Stopping ${what}${old.map((c) => c.label).join(', ')}`);
    await this.deps.traffic.drain(old.filter((c) => c.type === 'web').map(target), drainMs);
    const results = await Promise.allSettled(old.map((c) => this.deps.runtime.stopAndRemove(c.ref, stopMs)));
    results.forEach((result, i) => {
      const c = old[i]!;
      if (result.status === 'fulfilled') this.deps.ports.release(c.port);
      else log.error(`could not remove ${c.label} (${c.ref.name}): ${errorMessage(result.reason)}; it will be removed at the next deploy`);
    });
  }

  /** Removes containers that never took traffic, at once. */
  async discard(created: readonly ProcessContainer[], log: DeployLog): Promise<void> {
    if (created.length === 0) return;
    log.detail(`Removing the new containers: ${created.map((c) => c.label).join(', ')}`);
    const results = await Promise.allSettled(
      created.map(async (c) => {
        await this.deps.runtime.stopAndRemove(c.ref, 0);
        this.deps.ports.release(c.port);
      }),
    );
    for (const r of results) {
      if (r.status === 'rejected') log.error(`cleanup: ${errorMessage(r.reason)}`);
    }
  }

  /** The app's health check, if it set a healthcheckPath. */
  healthCheck(app: string): (HealthCheck & { intervalMs: number | null }) | undefined {
    const own = this.deps.store.getApp(app)?.settings;
    if (!own?.healthcheckPath) return undefined;
    return {
      path: own.healthcheckPath,
      host: this.deps.appHost(app),
      timeoutMs: own.healthcheckTimeoutMs ?? HEALTHCHECK_TIMEOUT_MS,
      intervalMs: own.healthcheckIntervalMs,
    };
  }

  timeouts(app: string): Timeouts {
    return appTimeouts(this.deps.store.getApp(app)?.settings, this.deps.timeouts);
  }
}

/** An app's timeouts: its own settings where it has them, else the server's (drain is the server's alone). */
export function appTimeouts(own: AppSettings | undefined, base: Timeouts): Timeouts {
  return {
    bootMs: own?.bootTimeoutMs ?? base.bootMs,
    hookMs: own?.hookTimeoutMs ?? base.hookMs,
    stopMs: own?.stopTimeoutMs ?? base.stopMs,
    drainMs: base.drainMs,
  };
}

/** Where the router sends a web container's requests. */
export function target(c: ProcessContainer): RouteTarget {
  return { host: c.host, port: c.port, container: c.ref.name };
}

/** `on port 21234` on one engine; `at 10.0.0.12:21234 (node-2)` on a swarm. */
function where(c: ProcessContainer): string {
  return c.host === '127.0.0.1' ? `on port ${c.port}` : `at ${c.host}:${c.port}${c.node ? ` (${c.node})` : ''}`;
}

function logExcerpt(label: string, lines: readonly string[]): string[] {
  if (lines.length === 0) return [`(${label} printed nothing)`];
  return [`Last lines from ${label}:`, ...lines.map((l) => `  ${l}`)];
}
