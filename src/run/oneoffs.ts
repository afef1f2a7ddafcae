import { LABEL, oneOffName, type AppContainers } from '../deploy/containers.js';
import type { Release as AppRelease } from '../deploy/formation.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { AttachedOneOff, ContainerSpec, Runtime, TerminalSize } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';

/** `attached` one-offs live as long as their client's connection; `detached` ones are kept for their logs. */
export const RUN_MODE_LABEL = LABEL.runMode;

/** How long an ended detached one-off is kept for its logs to be read. */
export const KEEP_FINISHED_MS = 60 * 60 * 1000;

/** How long a detached one-off may run by default (as Heroku's one-off dynos). */
export const MAX_RUN_MS = 24 * 60 * 60 * 1000;

/** How often the server sweeps every app's one-offs, at most. */
const SWEEP_EVERY_MS = 5 * 60 * 1000;

/** The image a one-off runs: the app's current release's (its Procfile is not needed). */
export type Release = Pick<AppRelease, 'deployment' | 'image' | 'commit'>;

export interface OneOffDeps {
  store: Pick<Store, 'nextOneOff'>;
  runtime: Pick<Runtime, 'attachOneOff' | 'startContainer' | 'waitForExit' | 'describeContainers' | 'stop' | 'stopAndRemove'>;
  containers: Pick<AppContainers, 'spec'>;
  ports: Pick<PortAllocator, 'allocate' | 'release'>;
  /** A detached one-off running longer is stopped (SIGTERM, SIGKILL after `stopGraceMs`). */
  maxRunMs?: number;
  stopGraceMs?: number;
  now?: () => number;
}

/** What a sweep did to a one-off, and why. */
export interface SweptOneOff {
  /** `one-off-3`. */
  name: string;
  /** The engine's name for its container. */
  container: string;
  /** `orphaned`: attached, its client gone; `expired`: ended over an hour ago; both removed. `timed-out`: stopped, kept. */
  reason: 'orphaned' | 'expired' | 'timed-out';
}

/** `one-off-3`: the CONTAINER it sees and the name `slipway logs --ps` takes. */
export interface DetachedRun {
  name: string;
  container: string;
}

/** What to run: a shell command line, variables for this run only, and the client's terminal if it gets one. */
export interface RunRequest {
  command: string;
  env?: Record<string, string>;
  terminal?: Terminal;
}

/** The client's terminal, for a run that gets one: TERM for the command, and its size if known. */
export interface Terminal {
  term: string;
  size?: TerminalSize;
}

export interface AttachedRun {
  name: string;
  oneOff: AttachedOneOff;
}

/**
 * `slipway run`: one-off containers of an app's current release, numbered `one-off-<n>`, each
 * with its own port while it runs. Starting one also clears away the one-offs nobody will read.
 */
export class OneOffs {
  /** Engine names of the attached one-offs this server is connected to. */
  private readonly attached = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly deps: OneOffDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Starts the command with its stdin and output connected, in a terminal when the client has
   * one; it is removed when it ends.
   */
  async attach(app: string, release: Release, run: RunRequest): Promise<AttachedRun> {
    const { name, port, spec } = await this.plan(app, release, run, 'attached');
    this.attached.add(spec.name);
    const settle = (): void => {
      this.attached.delete(spec.name);
      this.deps.ports.release(port);
    };
    let oneOff: AttachedOneOff;
    try {
      oneOff = await this.deps.runtime.attachOneOff(spec);
    } catch (error) {
      settle();
      throw error;
    }
    oneOff.exit.then(settle, settle);
    return { name, oneOff };
  }

  /** Starts the command on its own; its container stays after it ends, so its logs can be read. */
  async detach(app: string, release: Release, run: Omit<RunRequest, 'terminal'>): Promise<DetachedRun> {
    const { name, port, spec } = await this.plan(app, release, run, 'detached');
    const freePort = (): void => this.deps.ports.release(port);
    try {
      const ref = await this.deps.runtime.startContainer(spec);
      this.deps.runtime.waitForExit(ref).then(freePort, freePort);
      return { name, container: ref.name };
    } catch (error) {
      freePort();
      throw error;
    }
  }

  /**
   * How often the server should sweep: every 5 minutes, or more often when detached one-offs may
   * run only briefly (a quarter of timeouts.run, at least a second), so none outlives it by much.
   */
  get sweepEveryMs(): number {
    return Math.min(SWEEP_EVERY_MS, Math.max(1000, (this.deps.maxRunMs ?? MAX_RUN_MS) / 4));
  }

  /** Sweeps the apps' one-offs in the background, telling `log` what it did in the server's words. */
  sweepApps(apps: readonly string[], log: (line: string) => void): void {
    for (const app of apps) {
      this.sweep(app).then(
        (swept) => swept.forEach((one) => log(`${app}: ${this.sweptLine(one)}`)),
        (error: unknown) => log(`warning: could not sweep ${app}'s one-offs: ${String(error)}`),
      );
    }
  }

  /** The server's log line for what a sweep did to a one-off. */
  sweptLine(one: SweptOneOff): string {
    if (one.reason === 'orphaned') return `removed ${one.container}, a one-off whose client left with the previous server`;
    if (one.reason === 'expired') return `removed ${one.name} (${one.container}), a detached one-off that ended over an hour ago`;
    const runMs = this.deps.maxRunMs ?? MAX_RUN_MS;
    return `stopped ${one.name} (${one.container}), a detached one-off that ran longer than ${runMs / 1000} s (timeouts.run); its logs stay for an hour`;
  }

  /**
   * Removes the app's one-offs nobody will read any more — detached ones that ended over an hour
   * ago, and attached ones no client is connected to (left by a server that stopped mid-run) —
   * and stops detached ones that ran too long (their logs stay for an hour).
   */
  async sweep(app: string): Promise<SweptOneOff[]> {
    const now = this.now();
    const maxRunMs = this.deps.maxRunMs ?? MAX_RUN_MS;
    const list = await this.deps.runtime.describeContainers({ [LABEL.app]: app, [LABEL.role]: 'oneoff', [LABEL.type]: 'run' });
    const swept: SweptOneOff[] = [];
    const done: Promise<void>[] = [];
    for (const c of list) {
      const one = { name: c.labels[LABEL.container] ?? c.name, container: c.name };
      if (c.labels[RUN_MODE_LABEL] === 'attached') {
        if (this.attached.has(c.name)) continue;
        swept.push({ ...one, reason: 'orphaned' });
        done.push(this.deps.runtime.stopAndRemove(c, 0));
      } else if (c.finishedAt !== null && now - Date.parse(c.finishedAt) > KEEP_FINISHED_MS) {
        swept.push({ ...one, reason: 'expired' });
        done.push(this.deps.runtime.stopAndRemove(c, 0));
      } else if (c.startedAt !== null && now - Date.parse(c.startedAt) > maxRunMs) {
        swept.push({ ...one, reason: 'timed-out' });
        done.push(this.deps.runtime.stop(c, this.deps.stopGraceMs ?? 10_000));
      }
    }
    await Promise.all(done);
    return swept;
  }

  private async plan(
    app: string,
    release: Release,
    { command, env, terminal }: RunRequest,
    mode: 'attached' | 'detached',
  ): Promise<{ name: string; port: number; spec: ContainerSpec }> {
    // In the background: a failure here must not stop the run, and the next run tries again.
    this.sweep(app).catch(() => undefined);
    const n = this.deps.store.nextOneOff(app);
    const name = `one-off-${n}`;
    const port = await this.deps.ports.allocate();
    const spec = this.deps.containers.spec({
      app,
      deployment: release.deployment,
      commit: release.commit,
      image: release.image,
      command,
      type: 'run',
      label: name,
      role: 'oneoff',
      port,
      name: oneOffName(app, n),
      stdin: mode === 'attached',
      ...(terminal ? { tty: terminal.size ? { size: terminal.size } : {} } : {}),
      ...(env || terminal ? { extraEnv: { ...(terminal ? { TERM: terminal.term } : {}), ...env } } : {}),
    });
    return { name, port, spec: { ...spec, labels: { ...spec.labels, [RUN_MODE_LABEL]: mode } } };
  }
}
