import { CommitSource } from '../build/source.js';
import { formatProcfile, parseProcfile, parseProcfileBytes, type Procfile } from '../procfile/parse.js';
import type { DeploymentRecord, Store } from '../store/store.js';
import { LABEL, replacementName, type AppConfig } from './containers.js';
import { DeployFailure } from './failure.js';
import type { DeployLog } from './log.js';
import { target, type ProcessContainer, type Processes, type TrafficSwitch } from './processes.js';

/** A bound on one type's containers, so that a typo cannot start thousands. */
export const MAX_SCALE = 50;

/**
 * A release of an app: the image one deployment built from one commit, and the Procfile it runs.
 * What scale, restart and one-offs start containers from (one-offs need no Procfile).
 */
export interface Release {
  app: string;
  deployment: number;
  commit: string;
  image: string;
  procfile: Procfile;
}

export interface FormationDeps {
  store: Store;
  processes: Processes;
  traffic: TrafficSwitch;
  /** The app's bare repository (for the Procfile of deployments made before Slipway kept it). */
  gitDir(app: string): string;
}

/** A change the caller asked for cannot be made; nothing was changed. */
export class FormationError extends Error {
  constructor(
    readonly reason: 'no_release' | 'unknown_type' | 'invalid_count',
    message: string,
  ) {
    super(message);
    this.name = 'FormationError';
  }
}

export interface ScaleResult {
  formation: Record<string, number>;
  started: string[];
  stopped: string[];
}

export interface RestartResult {
  restarted: string[];
}

/**
 * Changes to the running release in place, without a new deployment: `scale` (more or fewer
 * containers of a type) and `restart` (fresh containers, one web container at a time, so that
 * traffic never lacks a booted one). New containers pass the same boot checks as in a deploy and
 * take traffic only once booted; a failure removes them and leaves the old ones serving.
 * Callers run these in the app's queue, so they never overlap a deployment.
 */
export class Formation {
  constructor(private readonly deps: FormationDeps) {}

  async release(app: string): Promise<Release> {
    const id = this.deps.store.getApp(app)?.currentDeployment ?? null;
    const deployment = id === null ? undefined : this.deps.store.getDeployment(app, id);
    if (!deployment || deployment.image === null) {
      throw new FormationError('no_release', `${app} has no release running yet; deploy it first: git push deploy main`);
    }
    const procfile = parseProcfile(await this.procfileOf(deployment));
    return { app, deployment: deployment.id, commit: deployment.commit, image: deployment.image, procfile };
  }

  /**
   * The Procfile a deployment's image runs. Deployments made before Slipway kept it with them
   * get it from their commit, once, if the repository still has it.
   */
  async procfileOf(deployment: DeploymentRecord): Promise<string> {
    if (deployment.procfile !== null) return deployment.procfile;
    let text: string;
    try {
      text = formatProcfile(parseProcfileBytes(await new CommitSource(this.deps.gitDir(deployment.app), deployment.commit).readFile('Procfile')));
    } catch {
      throw new FormationError(
        'no_release',
        `deployment ${deployment.id}'s Procfile was not recorded and its commit ${deployment.commit.slice(0, 7)} is no longer in the repository; push that commit again`,
      );
    }
    this.deps.store.setProcfile(deployment.app, deployment.id, text);
    return text;
  }

  /** How many containers of each of the release's process types the app runs, in Procfile order. */
  async current(app: string): Promise<Map<string, number>> {
    const release = await this.release(app);
    const counts = this.deps.store.getFormation(app);
    return new Map([...release.procfile.processes.keys()].map((type) => [type, counts.get(type) ?? 0]));
  }

  /** Checks that the release's Procfile declares `type`; throws FormationError. */
  checkType(release: Release, type: string): void {
    if (release.procfile.processes.has(type)) return;
    const types = [...release.procfile.processes.keys()];
    throw new FormationError(
      'unknown_type',
      `the Procfile of deployment ${release.deployment} has no process type "${type}"; its types are ${types.join(', ') || 'none'}`,
    );
  }

  /** Checks the requested counts against the release's Procfile; throws FormationError. */
  validate(release: Release, counts: ReadonlyMap<string, number>): void {
    for (const [type, count] of counts) {
      this.checkType(release, type);
      if (!Number.isInteger(count) || count < 0 || count > MAX_SCALE) {
        throw new FormationError('invalid_count', `${type}=${count} is not a valid count; use a whole number from 0 to ${MAX_SCALE}`);
      }
    }
  }

  async scale(app: string, counts: ReadonlyMap<string, number>, log: DeployLog): Promise<ScaleResult> {
    const release = await this.release(app);
    this.validate(release, counts);
    const { deployment } = release;
    const config = this.deps.processes.config(app);
    const running = await this.running(app, deployment);
    const formation = this.deps.store.getFormation(app);

    const plan: { type: string; label: string }[] = [];
    const surplus: ProcessContainer[] = [];
    for (const [type, count] of counts) {
      const current = running.filter((c) => c.type === type);
      surplus.push(...current.slice(count));
      const used = new Set(current.map((c) => c.label));
      for (let n = 1, missing = count - current.length; missing > 0; n++) {
        if (used.has(`${type}-${n}`)) continue;
        plan.push({ type, label: `${type}-${n}` });
        missing--;
      }
    }

    const created: ProcessContainer[] = [];
    try {
      if (plan.length > 0) {
        log.phase(`Starting ${plan.map((p) => p.label).join(', ')} (deployment ${deployment})`);
        await Promise.all(
          plan.map(async (p) => {
            created.push(await this.deps.processes.start(this.startOf(release, p.type, p.label), config));
          }),
        );
        await this.deps.processes.waitForBoot(created, config, log);
      }
    } catch (error) {
      await this.deps.processes.discard(created, log);
      throw error;
    }
    for (const [type, count] of counts) formation.set(type, count);
    const web = [...running.filter((c) => !surplus.includes(c)), ...created].filter((c) => c.type === 'web');
    const targets = sortByLabel(web).map(target);
    if (created.some((c) => c.type === 'web') || surplus.some((c) => c.type === 'web')) {
      log.phase(`Routing ${app} to ${web.length === 0 ? 'no web container' : web.map((c) => c.label).join(', ')}`);
      await this.deps.traffic.switchTo(app, deployment, targets);
    }
    this.deps.store.recordFormation(app, formation, targets);
    await this.deps.processes.retire(surplus, config.timeouts, log);
    log.phase(`${app} now runs ${describe(formation)}`);
    return {
      formation: Object.fromEntries(formation),
      started: sortByLabel(created).map((c) => c.label),
      stopped: surplus.map((c) => c.label),
    };
  }

  /** Replaces the app's containers (of one type, or all) with fresh ones of the same release. */
  async restart(app: string, type: string | undefined, log: DeployLog): Promise<RestartResult> {
    const release = await this.release(app);
    if (type !== undefined) this.checkType(release, type);
    const config = this.deps.processes.config(app);
    const all = await this.running(app, release.deployment);
    const chosen = all.filter((c) => type === undefined || c.type === type);
    if (chosen.length === 0) {
      log.phase(`${app} has no ${type === undefined ? '' : `${type} `}containers to restart`);
      return { restarted: [] };
    }
    // Web one at a time, each replacement booted and routed before its predecessor drains; the
    // others take no traffic and are replaced together, meanwhile.
    const webRestarted: string[] = [];
    const othersRestarted: string[] = [];
    const outcomes = await Promise.allSettled([
      this.rollWeb(release, config, all, chosen, webRestarted, log),
      this.replaceOthers(release, config, chosen, othersRestarted, log),
    ]);
    const restarted = [...webRestarted, ...othersRestarted];
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) {
      const error: unknown = failure.reason;
      if (error instanceof DeployFailure && restarted.length > 0) {
        throw new DeployFailure(error.status, `${error.message}; ${restarted.join(', ')} restarted, the others keep running`, error.lines);
      }
      throw error;
    }
    log.phase(`Restarted ${restarted.join(', ')}`);
    return { restarted };
  }

  private async rollWeb(
    release: Release,
    config: AppConfig,
    all: readonly ProcessContainer[],
    chosen: readonly ProcessContainer[],
    done: string[],
    log: DeployLog,
  ): Promise<void> {
    const { app, deployment: id } = release;
    let web = sortByLabel(all.filter((c) => c.type === 'web'));
    for (const old of chosen.filter((c) => c.type === 'web')) {
      log.phase(`Restarting ${old.label}`);
      const [fresh] = await this.replace(release, config, [old], log);
      web = web.map((c) => (c === old ? fresh! : c));
      await this.deps.traffic.switchTo(app, id, web.map(target));
      this.deps.store.recordTargets(app, web.map(target));
      await this.deps.processes.retire([old], config.timeouts, log);
      done.push(old.label);
    }
  }

  private async replaceOthers(release: Release, config: AppConfig, chosen: readonly ProcessContainer[], done: string[], log: DeployLog): Promise<void> {
    const others = chosen.filter((c) => c.type !== 'web');
    if (others.length === 0) return;
    log.phase(`Restarting ${others.map((c) => c.label).join(', ')}`);
    await this.replace(release, config, others, log);
    await this.deps.processes.retire(others, config.timeouts, log);
    done.push(...others.map((c) => c.label));
  }

  /** Starts and boots a fresh container for each old one (same label); removes them all if one fails. */
  private async replace(release: Release, config: AppConfig, old: readonly ProcessContainer[], log: DeployLog): Promise<ProcessContainer[]> {
    const generation = Date.now().toString(36);
    const fresh: ProcessContainer[] = [];
    try {
      await Promise.all(
        old.map(async (c) => {
          const start = this.startOf(release, c.type, c.label);
          fresh.push(await this.deps.processes.start({ ...start, name: replacementName(release.app, release.deployment, c.label, generation) }, config));
        }),
      );
      await this.deps.processes.waitForBoot(fresh, config, log);
    } catch (error) {
      await this.deps.processes.discard(fresh, log);
      throw error;
    }
    return old.map((c) => fresh.find((f) => f.label === c.label)!);
  }

  private startOf(release: Release, type: string, label: string) {
    const { app, deployment, commit, image, procfile } = release;
    return { app, deployment, commit, image, type, label, command: procfile.processes.get(type)! };
  }

  private running(app: string, deployment: number): Promise<ProcessContainer[]> {
    return this.deps.processes.list(app, (labels) => labels[LABEL.deployment] === String(deployment));
  }
}

function sortByLabel(list: readonly ProcessContainer[]): ProcessContainer[] {
  return [...list].sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true }));
}

function describe(formation: ReadonlyMap<string, number>): string {
  return [...formation].map(([type, count]) => `${type}=${count}`).join(' ') || 'no processes';
}
