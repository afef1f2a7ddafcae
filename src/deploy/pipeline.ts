import { ImageBuilder } from '../build/builder.js';
import { BuildRefusedError } from '../build/errors.js';
import { CommitSource } from '../build/source.js';
import { formatProcfile, parseProcfile, parseProcfileBytes, ProcfileError, type Procfile } from '../procfile/parse.js';
import type { PortAllocator } from '../runtime/ports.js';
import { BuildFailedError, RuntimeUnavailableError, type Runtime } from '../runtime/runtime.js';
import type { DeploymentRecord, Store } from '../store/store.js';
import { imageName, LABEL, type AppConfig, type AppContainers } from './containers.js';
import { DeployFailure, errorMessage, seconds } from './failure.js';
import { target, type ProcessContainer, type Processes, type TrafficSwitch } from './processes.js';
import type { DeployLog } from './log.js';
import type { FinalStatus } from './status.js';

/** Images of this many successful deployments are kept, the current one included. */
const KEEP_IMAGES = 5;

export interface PipelineSettings {
  appUrl(app: string): string;
}

/** Moves the pushed branch once its commit serves, so the repository matches what runs. */
export interface RefPublisher {
  /** With `from` (null: the branch does not exist yet), moves the branch only if it is still there. */
  publish(app: string, ref: string, commit: string, from?: string | null): Promise<void>;
}

export interface PipelineDeps {
  store: Store;
  runtime: Runtime;
  builder: ImageBuilder;
  containers: AppContainers;
  ports: PortAllocator;
  processes: Processes;
  traffic: TrafficSwitch;
  refs: RefPublisher;
  settings: PipelineSettings;
  /** Checks of the commit's other files at build time (cron.json); a DeployFailure fails the build. */
  checkRelease?: (deployment: DeploymentRecord, source: CommitSource, entries: ReadonlySet<string>, log: DeployLog) => Promise<void>;
  now?: () => number;
}

export interface DeployJob {
  deployment: DeploymentRecord;
  gitDir: string;
  /** The branch's commit when the deployment's turn came (null: none); the branch moves only from it. */
  base?: string | null;
  /** Aborts the deployment at its next step before the switch (the server is stopping). */
  signal?: AbortSignal;
}

/** What an aborted deployment says: the server stopped it before its switch. */
export const STOPPING_ABORT = 'The server is stopping; the deployment was stopped before its switch and nothing changed: push again';

/**
 * One deployment, in Scalingo's order for a postdeploy hook: build, start, wait for boot,
 * postdeploy in a one-off container, then switch traffic and retire the old containers. Everything a failed phase created is
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
    const created: ProcessContainer[] = [];
    let builtImage: string | undefined;
    let phase = 'build';

    const previous = store.getApp(app)?.currentDeployment ?? null;
    // Read once: every container of this deployment gets the same env, limits and mounts.
    const config = this.deps.processes.config(app);
    const signal = job.signal ?? new AbortController().signal;
    try {
      store.setStatus(app, id, 'building');
      store.startPhase(app, id, 'build');
      const release = await abortable(job.deployment.rollbackOf === null ? this.buildRelease(job, log) : this.reuseRelease(job.deployment, log), signal);
      const { procfile, image } = release;
      // A rollback's image belongs to the earlier deployment too: a failure must not remove it.
      if (job.deployment.rollbackOf === null) builtImage = image;
      await abortable(this.shareImage(image, log), signal);
      store.finishPhase(app, id, 'build');

      phase = 'start';
      store.setStatus(app, id, 'starting');
      store.startPhase(app, id, 'start');
      const formation = this.formation(app, procfile);
      stopIfAborted(signal);
      await this.start(job.deployment, config, image, procfile, formation, created, log);
      store.finishPhase(app, id, 'start');

      phase = 'boot';
      store.startPhase(app, id, 'boot');
      await abortable(this.deps.processes.waitForBoot(created, config, log), signal);
      store.finishPhase(app, id, 'boot');

      if (procfile.postdeploy !== undefined) {
        phase = 'postdeploy';
        store.startPhase(app, id, 'postdeploy');
        const releaseUrls = created.filter((c) => c.type === 'web').map((c) => `http://${c.host}:${c.port}`);
        await this.postdeploy(job.deployment, config, image, procfile.postdeploy, releaseEnv(releaseUrls), log, signal);
        store.finishPhase(app, id, 'postdeploy');
      }

      phase = 'switch';
      store.startPhase(app, id, 'switch');
      const old = await this.deps.processes.list(app, (labels) => labels[LABEL.deployment] !== String(id));
      const targets = created.filter((c) => c.type === 'web').map(target);
      stopIfAborted(signal);
      await this.deps.processes.checkAlive(app, id, created, procfile.postdeploy === undefined ? 'after it booted' : 'while the postdeploy hook ran');
      log.phase(`Switching traffic to deployment ${id}`);
      await this.deps.traffic.switchTo(app, id, targets);
      store.recordSwitch(app, id, formation, targets);
      await this.deps.refs.publish(app, job.deployment.ref, job.deployment.commit, job.base);
      store.finishPhase(app, id, 'switch');

      phase = 'retire';
      store.startPhase(app, id, 'retire');
      await this.deps.processes.retire(old, config.timeouts, log, 'the previous containers: ');
      await this.pruneImages(app, id, log);
      store.finishPhase(app, id, 'retire');

      store.finishDeployment(app, id, 'success', null);
      log.phase(`Deployment ${id} succeeded in ${seconds(this.now() - startedAt)}: ${settings.appUrl(app)}`);
      return 'success';
    } catch (error) {
      const failure = asFailure(signal.aborted ? new DeployFailure('aborted', STOPPING_ABORT) : error, phase);
      for (const line of failure.lines) log.detail(line);
      log.error(failure.message);
      await this.cleanUp(created, builtImage, log);
      store.finishDeployment(app, id, failure.status, failure.message);
      log.error(previous === null ? 'Nothing was serving before, and nothing is now.' : `Deployment ${previous} keeps serving ${settings.appUrl(app)}`);
      const push = `git push deploy ${branchOf(job.deployment.ref)}`;
      log.error(
        job.deployment.rollbackOf === null
          ? `Fix the problem and push again: ${push}`
          : `Fix the problem and roll back again (slipway rollback), or push a fix: ${push}`,
      );
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
    const procfile = await this.readProcfile(source, entries, log);
    this.deps.store.setProcfile(app, id, formatProcfile(procfile));
    log.detail(`Procfile: ${describeProcfile(procfile)}`);
    await this.deps.checkRelease?.(job.deployment, source, entries, log);
    const image = imageName(app, id);
    log.phase(`Building image with ${this.deps.builder.describe(entries)}`);
    await this.build(source, entries, image, job.deployment, log);
    this.deps.store.setImage(app, id, image);
    return { image, procfile };
  }

  /** A rollback: the earlier deployment's image and Procfile, as they were; nothing is rebuilt. */
  private async reuseRelease(deployment: DeploymentRecord, log: DeployLog): Promise<{ image: string; procfile: Procfile }> {
    const from = deployment.rollbackOf;
    log.phase(
      `Rolling ${deployment.app} back: deployment ${deployment.id} runs the image of deployment ${from} (commit ${deployment.commit.slice(0, 7)}), without rebuilding`,
    );
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

  private async readProcfile(source: CommitSource, entries: ReadonlySet<string>, log: DeployLog): Promise<Procfile> {
    if (!entries.has('Procfile')) {
      const inferred = await this.refusedAsFailure(() => this.deps.builder.inferProcesses(source, entries));
      if (inferred !== undefined) {
        const procfile = parseProcfile(inferred.procfile);
        log.phase(`No Procfile: ${[...procfile.processes].map(([type, command]) => `${type}: ${command}`).join(', ')} (from ${inferred.from})`);
        return procfile;
      }
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

  private async build(source: CommitSource, entries: ReadonlySet<string>, tag: string, deployment: DeploymentRecord, log: DeployLog): Promise<void> {
    await this.refusedAsFailure(() =>
      this.deps.builder.build(
        { source, entries, app: deployment.app, tag, labels: { [LABEL.app]: deployment.app, [LABEL.deployment]: String(deployment.id) } },
        log,
      ),
    );
  }

  /** A refused build's sentence is the reason as it is; an engine's build failure says it is one. */
  private async refusedAsFailure<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof BuildRefusedError) throw new DeployFailure('build-error', error.message);
      if (error instanceof BuildFailedError) throw new DeployFailure('build-error', `The image build failed: ${error.message}`);
      throw error;
    }
  }

  /** On an engine whose machines pull images from a registry (a swarm): the image goes there. */
  private async shareImage(image: string, log: DeployLog): Promise<void> {
    const registry = this.deps.runtime.registry;
    if (registry === null) return;
    log.phase(`Pushing the image to the registry ${registry}`);
    const started = this.now();
    try {
      const bytes = await this.deps.runtime.pushImage(image);
      log.detail(`${(bytes / 1e6).toFixed(1)} MB pushed in ${seconds(this.now() - started)}`);
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) throw error;
      throw new DeployFailure('build-error', errorMessage(error));
    }
  }

  /** First deployment: one container per type; later ones keep the app's counts. */
  private formation(app: string, procfile: Procfile): Map<string, number> {
    const current = this.deps.store.getFormation(app);
    return new Map([...procfile.processes.keys()].map((type) => [type, current.get(type) ?? 1]));
  }

  private async start(
    deployment: DeploymentRecord,
    config: AppConfig,
    image: string,
    procfile: Procfile,
    formation: ReadonlyMap<string, number>,
    created: ProcessContainer[],
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
        created.push(await this.deps.processes.start({ app: deployment.app, deployment: deployment.id, commit: deployment.commit, image, ...p }, config));
      }),
    );
    // In the plan's order (web-1 before web-2), whichever started first: the boot lines follow it.
    created.sort((a, b) => plan.findIndex((p) => p.label === a.label) - plan.findIndex((p) => p.label === b.label));
  }

  private async postdeploy(
    deployment: DeploymentRecord,
    config: AppConfig,
    image: string,
    command: string,
    extraEnv: Record<string, string>,
    log: DeployLog,
    signal: AbortSignal,
  ): Promise<void> {
    const timeoutMs = config.timeouts.hookMs;
    log.phase(`Running postdeploy: ${command}`);
    const port = await this.deps.ports.allocate();
    let stopHook = (): void => undefined;
    try {
      const spec = this.deps.containers.spec(
        {
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
        },
        config,
      );
      // Stopping the hook's container ends runOneOff; the failure then reads as aborted.
      stopHook = () => void this.deps.runtime.stop({ id: spec.name, name: spec.name }, 0).catch(() => undefined);
      signal.addEventListener('abort', stopHook);
      stopIfAborted(signal);
      const result = await this.deps.runtime.runOneOff(spec, (line) => log.detail(line), timeoutMs);
      if (result.timedOut) {
        throw new DeployFailure('hook-error', `The postdeploy command did not finish within ${seconds(timeoutMs)} and was stopped`);
      }
      if (result.exitCode !== 0) {
        throw new DeployFailure('hook-error', `The postdeploy command failed with exit code ${result.exitCode}`);
      }
      log.detail('postdeploy succeeded');
    } finally {
      signal.removeEventListener('abort', stopHook);
      this.deps.ports.release(port);
    }
  }

  /**
   * Keeps the images of the last few successful deployments (for rollbacks), removes older
   * ones. A rollback shares its image with the deployment it rolled back to.
   */
  private async pruneImages(app: string, current: number, log: DeployLog): Promise<void> {
    // The current deployment is not recorded as a success yet, but it is one of the kept.
    const successful = this.deps.store.listDeployments(app, 1000).filter((d) => (d.status === 'success' || d.id === current) && d.image !== null);
    const kept = new Set(successful.slice(0, KEEP_IMAGES).map((d) => d.image!));
    const old = new Set(
      successful
        .slice(KEEP_IMAGES)
        .map((d) => d.image!)
        .filter((image) => !kept.has(image)),
    );
    for (const image of old) {
      try {
        await this.deps.runtime.removeImage(image);
        this.deps.store.forgetImage(app, image);
      } catch (error) {
        log.error(`could not remove the image ${image}: ${errorMessage(error)}`);
      }
    }
  }

  private async cleanUp(created: readonly ProcessContainer[], image: string | undefined, log: DeployLog): Promise<void> {
    await this.deps.processes.discard(created, log);
    if (!image) return;
    try {
      await this.deps.runtime.removeImage(image);
    } catch (error) {
      log.error(`cleanup: ${errorMessage(error)}`);
    }
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

function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new DeployFailure('aborted', STOPPING_ABORT);
}

/** `work`, unless `signal` aborts first (the work is left to end on its own; its result is dropped). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new DeployFailure('aborted', STOPPING_ABORT));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DeployFailure('aborted', STOPPING_ABORT));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function describeProcfile(procfile: Procfile): string {
  return [...procfile.processes.keys(), ...(procfile.postdeploy ? ['postdeploy'] : [])].join(', ');
}

function asFailure(error: unknown, phase: string): DeployFailure {
  if (error instanceof DeployFailure) return error;
  if (error instanceof RuntimeUnavailableError) return new DeployFailure('aborted', `${error.message} (during the ${phase} phase)`);
  return new DeployFailure('aborted', `The ${phase} phase stopped on an unexpected error: ${errorMessage(error)}`);
}

/** `refs/heads/master` → `master`, for the hint that says what to push again. */
function branchOf(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}
