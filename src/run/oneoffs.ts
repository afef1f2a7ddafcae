import { LABEL, type AppContainers } from '../deploy/containers.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { AttachedOneOff, ContainerSpec, Runtime, TerminalSize } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';

/** `attached` one-offs live as long as their client's connection; `detached` ones are kept for their logs. */
export const RUN_MODE_LABEL = 'slipway.run';

/** How long an ended detached one-off is kept for its logs to be read. */
export const KEEP_FINISHED_MS = 60 * 60 * 1000;

/** The image a one-off runs: the app's current deployment's. */
export interface Release {
  deployment: number;
  image: string;
  commit: string;
}

export interface OneOffDeps {
  store: Pick<Store, 'nextOneOff'>;
  runtime: Pick<Runtime, 'attachOneOff' | 'startContainer' | 'waitForExit' | 'describeContainers' | 'stopAndRemove'>;
  containers: Pick<AppContainers, 'spec'>;
  ports: Pick<PortAllocator, 'allocate' | 'release'>;
  now?: () => number;
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
   * Removes the app's one-offs nobody will read any more: detached ones that ended over an hour
   * ago, and attached ones no client is connected to (left by a server that stopped mid-run).
   */
  async sweep(app: string): Promise<string[]> {
    const now = this.now();
    const list = await this.deps.runtime.describeContainers({ [LABEL.app]: app, [LABEL.role]: 'oneoff', [LABEL.type]: 'run' });
    const stale = list.filter((c) =>
      c.labels[RUN_MODE_LABEL] === 'attached'
        ? !this.attached.has(c.name)
        : c.finishedAt !== null && now - Date.parse(c.finishedAt) > KEEP_FINISHED_MS,
    );
    await Promise.all(stale.map((c) => this.deps.runtime.stopAndRemove(c, 0)));
    return stale.map((c) => c.name);
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
      name: `slipway-${app}-run-${n}`,
      stdin: mode === 'attached',
      ...(terminal ? { tty: terminal.size ? { size: terminal.size } : {} } : {}),
      ...(env || terminal ? { extraEnv: { ...(terminal ? { TERM: terminal.term } : {}), ...env } } : {}),
    });
    return { name, port, spec: { ...spec, labels: { ...spec.labels, [RUN_MODE_LABEL]: mode } } };
  }
}
