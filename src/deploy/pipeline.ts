export { LABEL } from './containers.js';
import { ImageBuilder } from '../build/builder.js';
import { CommitSource } from '../build/source.js';
import { formatProcfile, parseProcfile, parseProcfileBytes, ProcfileError, type Procfile } from '../procfile/parse.js';
import { waitForPort } from '../runtime/boot.js';
import type { PortAllocator } from '../runtime/ports.js';
import { BuildFailedError, RuntimeUnavailableError, type ContainerRef, type Runtime } from '../runtime/runtime.js';
import type { DeploymentRecord, RouteTarget, Store } from '../store/store.js';
import { LABEL, type AppContainers } from './containers.js';
import type { DeployLog } from './log.js';
import type { FailureStatus, FinalStatus } from './status.js';

/** How long a deployment without a web process is watched for crashes before it counts as booted. */
const NO_WEB_WATCH_MS = 2000;
const LOG_LINES_ON_FAILURE = 20;
/** Images of this many successful deployments are kept, the current one included. */
const KEEP_IMAGES = 5;

export interface Timeouts {
  bootMs: number;
  hookMs: number;
  stopMs: number;
  drainMs: number;
}

export interface PipelineSettings {
  timeouts: Timeouts;
  appUrl(app: string): string;
}

/** What the pipeline needs from the router: an atomic switch and a wait for in-flight requests. */
export interface TrafficSwitch {
  switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void>;
}

/** Moves the pushed branch once its commit serves, so the repository matches what runs. */
export interface RefPublisher {
  publish(app: string, ref: string, commit: string): Promise<void>;
}

export interface PipelineDeps {
  store: Store;
  runtime: Runtime;
  builder: ImageBuilder;
  containers: AppContainers;
  ports: PortAllocator;
  traffic: TrafficSwitch;
  refs: RefPublisher;
  settings: PipelineSettings;
  now?: () => number;
}

export interface DeployJob {
  deployment: DeploymentRecord;
  gitDir: string;
}

export interface NewContainer {
  ref: ContainerRef;
  type: string;
  label: string;
  port: number;
}

/** A phase failed; the deployment ends with `status`, and `lines` explain why. */
export class DeployFailure extends Error {
  constructor(
    readonly status: FailureStatus,
    message: string,
    readonly lines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'DeployFailure';
  }
}

/**
 * The seed's order, exactly: build, start, wait for boot, postdeploy in a one-off container,
 * then switch traffic and retire the old containers. Everything a failed phase created is
 * removed; the old containers are never touched before the switch.
 */
export class Pipeline {
  private readonly now: () => number;

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
  }

  async run(job: DeployJob, log: DeployLog): Promise<FinalStatus> {
    const { store, settings } = this.deps;
    const { app, id } = job.deployment;
    const startedAt = this.now();
    const created: NewContainer[] = [];
    let image: string | undefined;
    let builtImage: string | undefined;
    let phase = 'build';

    const previous = store.getApp(app)?.currentDeployment ?? null;
    try {
      store.setStatus(app, id, 'building');
      store.startPhase(app, id, 'build');
      const release = job.deployment.rollbackOf === null ? await this.buildRelease(job, log) : await this.reuseRelease(job.deployment, log);
      const procfile = release.procfile;
      image = release.image;
      // A rollback's image belongs to the earlier deployment too: a failure must not remove it.
      if (job.deployment.rollbackOf === null) builtImage = image;
      store.finishPhase(app, id, 'build');

      phase = 'start';
      store.setStatus(app, id, 'starting');
      store.startPhase(app, id, 'start');
      const formation = this.formation(app, procfile);
      await this.start(job.deployment, image, procfile, formation, created, log);
      store.finishPhase(app, id, 'start');

      phase = 'boot';
      store.startPhase(app, id, 'boot');
      await this.waitForBoot(created, this.timeouts(app).bootMs, log);
      store.finishPhase(app, id, 'boot');

      if (procfile.postdeploy !== undefined) {
        phase = 'postdeploy';
        store.startPhase(app, id, 'postdeploy');
        const releaseUrls = created.filter((c) => c.type === 'web').map((c) => `http://127.0.0.1:${c.port}`);
        await this.postdeploy(job.deployment, image, procfile.postdeploy, releaseEnv(releaseUrls), log);
        store.finishPhase(app, id, 'postdeploy');
      }

      phase = 'switch';
      store.startPhase(app, id, 'switch');
      const old = await this.currentContainers(app, id);
      const targets = created
        .filter((c) => c.type === 'web')
        .map((c) => ({ host: '127.0.0.1', port: c.port, container: c.ref.name }));
      log.phase(`Switching traffic to deployment ${id}`);
      await this.deps.traffic.switchTo(app, id, targets);
      store.recordSwitch(app, id, formation, targets);
      await this.deps.refs.publish(app, job.deployment.ref, job.deployment.commit);
      await Promise.all(created.map((c) => this.deps.runtime.keepRunning(c.ref)));
      store.finishPhase(app, id, 'switch');

      phase = 'retire';
      store.startPhase(app, id, 'retire');
      await this.retire(app, old, log);
      await this.pruneImages(app, log);
      store.finishPhase(app, id, 'retire');

      store.finishDeployment(app, id, 'success', null);
      log.phase(`Deployment ${id} succeeded in ${seconds(this.now() - startedAt)}: ${settings.appUrl(app)}`);
      return 'success';
    } catch (error) {
      const failure = asFailure(error, phase);
      for (const line of failure.lines) log.detail(line);
      log.error(failure.message);
      await this.cleanUp(created, builtImage, log);
      store.finishDeployment(app, id, failure.status, failure.message);
      log.error(
        previous === null
          ? 'Nothing was serving before, and nothing is now.'
          : `Deployment ${previous} keeps serving ${settings.appUrl(app)}`,
      );
      log.error('Fix the problem and push again: git push deploy main');
      log.error(`Deployment ${id} failed: ${failure.status} in the ${phase} phase after ${seconds(this.now() - startedAt)}: ${settings.appUrl(app)}`);
      return failure.status;
    }
  }

  /** A push: the commit's Procfile, and an image built from its tree. */
  private async buildRelease(job: DeployJob, log: DeployLog): Promise<{ image: string; procfile: Procfile }> {
    const { app, id } = job.deployment;
    const source = new CommitSource(job.gitDir, job.deployment.commit);
    const info = await source.info();
    log.phase(`Deploying ${app}: deployment ${id}, commit ${info.sha.slice(0, 7)}${info.subject ? ` "${info.subject}"` : ''}`);
    const entries = await source.rootEntries();
    const procfile = await this.readProcfile(source, entries);
    this.deps.store.setProcfile(app, id, formatProcfile(procfile));
    log.detail(`Procfile: ${describeProcfile(procfile)}`);
    const image = `slipway/${app}:${id}`;
    log.phase(`Building image with ${this.deps.builder.describe(entries)}`);
    await this.build(source, entries, image, job.deployment, log);
    this.deps.store.setImage(app, id, image);
    return { image, procfile };
  }

  /** A rollback: the earlier deployment's image and Procfile, as they were; nothing is rebuilt. */
  private async reuseRelease(deployment: DeploymentRecord, log: DeployLog): Promise<{ image: string; procfile: Procfile }> {
    const from = deployment.rollbackOf;
    log.phase(`Rolling ${deployment.app} back: deployment ${deployment.id} runs the image of deployment ${from} (commit ${deployment.commit.slice(0, 7)}), without rebuilding`);
    const image = deployment.image;
    if (image === null || deployment.procfile === null || !(await this.deps.runtime.imageExists(image))) {
      throw new DeployFailure(
        'build-error',
        `The image of deployment ${from} is no longer kept (only the last images are); push its commit again to rebuild it`,
      );
    }
    const procfile = parseProcfile(deployment.procfile);
    log.detail(`Procfile: ${describeProcfile(procfile)}`);
    return { image, procfile };
  }

  private async readProcfile(source: CommitSource, entries: ReadonlySet<string>): Promise<Procfile> {
    if (!entries.has('Procfile')) {
      throw new DeployFailure(
        'build-error',
        'There is no Procfile at the root of the commit; add one with a line such as "web: node server.js" and push again',
      );
    }
    try {
      return parseProcfileBytes(await source.readFile('Procfile'));
    } catch (error) {
      if (error instanceof ProcfileError) throw new DeployFailure('build-error', `${error.message}`);
      throw error;
    }
  }

  private async build(
    source: CommitSource,
    entries: ReadonlySet<string>,
    tag: string,
    deployment: DeploymentRecord,
    log: DeployLog,
  ): Promise<void> {
    try {
      await this.deps.builder.build(
        { source, entries, tag, labels: { [LABEL.app]: deployment.app, [LABEL.deployment]: String(deployment.id) } },
        (line) => log.detail(line),
      );
    } catch (error) {
      if (error instanceof BuildFailedError) throw new DeployFailure('build-error', `The image build failed: ${error.message}`);
      throw error;
    }
  }

  /** First deployment: one container per type; later ones keep the app's counts. */
  private formation(app: string, procfile: Procfile): Map<string, number> {
    const current = this.deps.store.getFormation(app);
    return new Map([...procfile.processes.keys()].map((type) => [type, current.get(type) ?? 1]));
  }

  private async start(
    deployment: DeploymentRecord,
    image: string,
    procfile: Procfile,
    formation: ReadonlyMap<string, number>,
    created: NewContainer[],
    log: DeployLog,
  ): Promise<void> {
    const plan: { type: string; label: string; command: string }[] = [];
    for (const [type, command] of procfile.processes) {
      for (let n = 1; n <= (formation.get(type) ?? 0); n++) plan.push({ type, label: `${type}-${n}`, command });
    }
    if (plan.length === 0) {
      log.phase('Starting no containers: every process type is scaled to 0');
      return;
    }
    log.phase(`Starting ${plan.map((p) => p.label).join(', ')}`);
    await Promise.all(
      plan.map(async (p) => {
        created.push(await this.startProcess({ app: deployment.app, deployment: deployment.id, commit: deployment.commit, image, ...p }));
      }),
    );
  }

  /** Starts one long-running container of a release on a port of its own. */
  async startProcess(p: { app: string; deployment: number; commit: string; image: string; type: string; label: string; command: string; name?: string }): Promise<NewContainer> {
    const port = await this.deps.ports.allocate();
    try {
      const ref = await this.deps.runtime.startContainer(this.deps.containers.spec({ ...p, role: 'process', port }));
      return { ref, type: p.type, label: p.label, port };
    } catch (error) {
      this.deps.ports.release(port);
      throw error;
    }
  }

  /** Resolves once every web container accepts connections; throws a DeployFailure on a crash or timeout. */
  async waitForBoot(containers: readonly NewContainer[], timeoutMs: number, log: DeployLog): Promise<void> {
    if (containers.length === 0) return;
    const web = containers.filter((c) => c.type === 'web');
    for (const c of web) log.phase(`Waiting for ${c.label} to accept connections on port ${c.port}`);
    if (web.length === 0) log.phase(`Watching ${containers.map((c) => c.label).join(', ')} for ${seconds(NO_WEB_WATCH_MS)}`);

    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    type Outcome = { kind: 'booted' } | { kind: 'timeout' } | { kind: 'crashed'; container: NewContainer; code: number };
    const booted: Promise<Outcome> = (
      web.length > 0
        ? Promise.all(web.map((c) => waitForPort(c.port, stop.signal)))
        : new Promise((resolve) => setTimeout(resolve, NO_WEB_WATCH_MS))
    ).then(() => ({ kind: 'booted' }));
    const crashed: Promise<Outcome> = Promise.race(
      containers.map((c) =>
        this.deps.runtime.waitForExit(c.ref).then((code): Outcome => ({ kind: 'crashed', container: c, code })),
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
          `${outcome.container.label} exited with code ${outcome.code} before the deployment booted`,
          logExcerpt(outcome.container.label, lines),
        );
      }
      const late = web.length > 0 ? web : containers;
      const excerpts: string[] = [];
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

  private async postdeploy(
    deployment: DeploymentRecord,
    image: string,
    command: string,
    extraEnv: Record<string, string>,
    log: DeployLog,
  ): Promise<void> {
    const timeoutMs = this.timeouts(deployment.app).hookMs;
    log.phase(`Running postdeploy: ${command}`);
    const port = await this.deps.ports.allocate();
    try {
      const spec = this.deps.containers.spec({
        app: deployment.app,
        deployment: deployment.id,
        commit: deployment.commit,
        image,
        command,
        type: 'postdeploy',
        label: 'postdeploy-1',
        role: 'oneoff',
        port,
        extraEnv,
      });
      const result = await this.deps.runtime.runOneOff(spec, (line) => log.detail(line), timeoutMs);
      if (result.timedOut) {
        throw new DeployFailure('hook-error', `The postdeploy command did not finish within ${seconds(timeoutMs)} and was stopped`);
      }
      if (result.exitCode !== 0) {
        throw new DeployFailure('hook-error', `The postdeploy command failed with exit code ${result.exitCode}`);
      }
      log.detail('postdeploy succeeded');
    } finally {
      this.deps.ports.release(port);
    }
  }

  /** The app's long-running containers that belong to other deployments: what the switch replaces. */
  async currentContainers(app: string, deployment: number): Promise<NewContainer[]> {
    const list = await this.deps.runtime.listContainers({ [LABEL.app]: app, [LABEL.role]: 'process' });
    return list
      .filter((c) => c.labels[LABEL.deployment] !== String(deployment))
      .map((c) => ({
        ref: { id: c.id, name: c.name },
        type: c.labels[LABEL.type] ?? '',
        label: c.labels[LABEL.container] ?? c.name,
        port: Number(c.labels[LABEL.port] ?? 0),
      }));
  }

  /** Drains the web ones, then stops and removes them all, in parallel. */
  async retire(app: string, old: readonly NewContainer[], log: DeployLog): Promise<void> {
    if (old.length === 0) return;
    const { drainMs, stopMs } = this.timeouts(app);
    log.phase(`Stopping the previous containers: ${old.map((c) => c.ref.name).join(', ')}`);
    await this.deps.traffic.drain(
      old.filter((c) => c.type === 'web').map((c) => ({ host: '127.0.0.1', port: c.port, container: c.ref.name })),
      drainMs,
    );
    const results = await Promise.allSettled(old.map((c) => this.deps.runtime.stopAndRemove(c.ref, stopMs)));
    results.forEach((result, i) => {
      const c = old[i]!;
      if (result.status === 'fulfilled') this.deps.ports.release(c.port);
      else log.error(`could not remove ${c.ref.name}: ${errorMessage(result.reason)}; it will be removed at the next deploy`);
    });
  }

  /**
   * Keeps the images of the last few successful deployments (for rollbacks), removes older
   * ones. A rollback shares its image with the deployment it rolled back to.
   */
  private async pruneImages(app: string, log: DeployLog): Promise<void> {
    const successful = this.deps.store.listDeployments(app, 1000).filter((d) => d.status === 'success' && d.image !== null);
    const kept = new Set(successful.slice(0, KEEP_IMAGES).map((d) => d.image!));
    const old = new Set(successful.slice(KEEP_IMAGES).map((d) => d.image!).filter((image) => !kept.has(image)));
    for (const image of old) {
      try {
        await this.deps.runtime.removeImage(image);
        this.deps.store.forgetImage(app, image);
      } catch (error) {
        log.error(`could not remove the image ${image}: ${errorMessage(error)}`);
      }
    }
  }

  private async cleanUp(created: readonly NewContainer[], image: string | undefined, log: DeployLog): Promise<void> {
    if (created.length > 0) log.detail(`Removing the new containers: ${created.map((c) => c.label).join(', ')}`);
    const results = await Promise.allSettled(
      created.map(async (c) => {
        await this.deps.runtime.stopAndRemove(c.ref, 0);
        this.deps.ports.release(c.port);
      }),
    );
    if (image) results.push(...(await Promise.allSettled([this.deps.runtime.removeImage(image)])));
    for (const r of results) {
      if (r.status === 'rejected') log.error(`cleanup: ${errorMessage(r.reason)}`);
    }
  }

  timeouts(app: string): Timeouts {
    const own = this.deps.store.getApp(app)?.settings;
    const base = this.deps.settings.timeouts;
    return {
      bootMs: own?.bootTimeoutMs ?? base.bootMs,
      hookMs: own?.hookTimeoutMs ?? base.hookMs,
      stopMs: own?.stopTimeoutMs ?? base.stopMs,
      drainMs: base.drainMs,
    };
  }

}

/**
 * The smoke-test gate: the hook can reach the new web containers directly, before any user
 * request does, and refuse a release that boots but does not work.
 */
function releaseEnv(urls: readonly string[]): Record<string, string> {
  if (urls.length === 0) return {};
  return { SLIPWAY_RELEASE_URL: urls[0]!, SLIPWAY_RELEASE_URLS: urls.join(' ') };
}

function describeProcfile(procfile: Procfile): string {
  return [...procfile.processes.keys(), ...(procfile.postdeploy ? ['postdeploy'] : [])].join(', ');
}

function asFailure(error: unknown, phase: string): DeployFailure {
  if (error instanceof DeployFailure) return error;
  if (error instanceof RuntimeUnavailableError) return new DeployFailure('aborted', `${error.message} (during the ${phase} phase)`);
  return new DeployFailure('aborted', `The ${phase} phase stopped on an unexpected error: ${errorMessage(error)}`);
}

function logExcerpt(label: string, lines: readonly string[]): string[] {
  if (lines.length === 0) return [`(${label} printed nothing)`];
  return [`Last lines from ${label}:`, ...lines.map((l) => `  ${l}`)];
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}
