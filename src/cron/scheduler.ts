import { Cron } from 'croner';
import { cronRunName, LABEL, type AppContainers } from '../deploy/containers.js';
import type { DeploymentEvent } from '../deploy/deployer.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { ContainerRef, Runtime } from '../runtime/runtime.js';
import type { CronJob, CronRunRecord } from '../store/cron.js';
import type { Store } from '../store/store.js';
import { cronPattern } from './file.js';

/** Ended runs' containers are kept this long (for `slipway logs --type cron`), and at most this many per app. */
const KEEP_ENDED_MS = 60 * 60 * 1000;
const KEEP_ENDED = 10;

export interface CronDeps {
  store: Store;
  runtime: Pick<Runtime, 'startContainer' | 'waitForExit' | 'stop' | 'stopAndRemove' | 'describeContainers'>;
  containers: Pick<AppContainers, 'spec'>;
  ports: Pick<PortAllocator, 'allocate' | 'release'>;
  /** Subscribes to deployments' ends: a successful one brings its own jobs. */
  onDeployment(listener: (event: DeploymentEvent) => void): () => void;
  /** A run still going after this is stopped (SIGTERM, SIGKILL after the app's stop timeout). */
  timeoutMs: number;
  stopGraceMs(app: string): number;
  log: (line: string) => void;
  now?: () => number;
}

/** What `slipway cron` shows of one job. */
export interface CronJobStatus extends CronJob {
  nextRun: number | null;
  /** `cron-<n>` while a run is going. */
  running: string | null;
  lastRun: CronRunRecord | null;
  lastSkip: number | null;
  skips: number;
}

interface Scheduled {
  deployment: number;
  jobs: { job: CronJob; timer: Cron }[];
}

/**
 * Runs the jobs of each app's current deployment on their schedules, in UTC, each run a one-off
 * container of that release (`CONTAINER=cron-<n>`). A job whose previous run is still going when
 * it is due again is skipped (and the skip recorded); a run past the timeout is stopped. Times
 * missed while the server was down are not made up.
 */
export class CronScheduler {
  private readonly apps = new Map<string, Scheduled>();
  /** Jobs with a run going (`app\0schedule command`), and the run. */
  private readonly running = new Map<string, CronRunRecord>();
  private readonly runs = new Set<Promise<void>>();
  private readonly now: () => number;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: CronDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Schedules every app's current jobs and takes back the runs a stopped server left going. */
  async start(): Promise<void> {
    this.unsubscribe = this.deps.onDeployment((event) => {
      if (event.kind === 'finished' && event.status === 'success') this.reload(event.deployment.app);
    });
    await this.adoptRuns();
    for (const app of this.deps.store.listApps()) this.reload(app.name);
  }

  /** Stops scheduling; runs going on keep running, and the next start takes them back. */
  stop(): void {
    this.unsubscribe?.();
    for (const app of [...this.apps.keys()]) this.unschedule(app);
  }

  /** Schedules the jobs of the app's current deployment, replacing the previous ones. */
  reload(app: string): void {
    this.unschedule(app);
    const deployment = this.deps.store.getApp(app)?.currentDeployment ?? null;
    if (deployment === null) return;
    const jobs = this.deps.store.cron.jobsOf(app, deployment);
    if (jobs.length === 0) return;
    this.apps.set(app, {
      deployment,
      jobs: jobs.map((job) => ({
        job,
        timer: new Cron(cronPattern(job.schedule), { timezone: 'UTC', unref: true }, () => {
          try {
            this.due(app, job);
          } catch (error) {
            this.deps.log(`${app}: cron job "${line(job)}" could not start: ${error instanceof Error ? error.message : String(error)}`);
          }
        }),
      })),
    });
  }

  /** The jobs of the app's current deployment, with their last and next runs. */
  status(app: string): { deployment: number | null; jobs: CronJobStatus[] } {
    const deployment = this.deps.store.getApp(app)?.currentDeployment ?? null;
    const scheduled = this.apps.get(app);
    const jobs = deployment === null ? [] : this.deps.store.cron.jobsOf(app, deployment);
    return {
      deployment,
      jobs: jobs.map((job) => {
        const latest = this.deps.store.cron.latest(app, line(job));
        const timer = scheduled?.jobs.find((s) => line(s.job) === line(job))?.timer;
        const running = this.running.get(key(app, line(job)));
        return {
          ...job,
          nextRun: timer?.nextRun()?.getTime() ?? null,
          running: running ? `cron-${running.n}` : null,
          lastRun: latest.run ?? null,
          lastSkip: latest.skip?.startedAt ?? null,
          skips: latest.skips,
        };
      }),
    };
  }

  /** Resolves once every run started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.runs.size > 0) await Promise.allSettled([...this.runs]);
  }

  private unschedule(app: string): void {
    for (const { timer } of this.apps.get(app)?.jobs ?? []) timer.stop();
    this.apps.delete(app);
  }

  private due(app: string, job: CronJob): void {
    const current = this.deps.store.getApp(app);
    const deployment = current?.currentDeployment ?? null;
    if (deployment === null || this.apps.get(app)?.deployment !== deployment) {
      // The app was destroyed, or its release changed without this scheduler hearing of it.
      this.reload(app);
      return;
    }
    const going = this.running.get(key(app, line(job)));
    if (going) {
      this.deps.store.cron.recordSkip(app, line(job), deployment);
      this.deps.log(
        `${app}: cron job "${line(job)}" skipped at ${new Date(this.now()).toISOString()}: its run cron-${going.n} (since ${new Date(going.startedAt).toISOString()}) is still going`,
      );
      return;
    }
    const run = this.deps.store.cron.startRun(app, line(job), deployment);
    this.track(this.execute(app, job, run));
  }

  private track(work: Promise<void>): void {
    this.runs.add(work);
    void work.finally(() => this.runs.delete(work));
  }

  private async execute(app: string, job: CronJob, run: CronRunRecord): Promise<void> {
    const k = key(app, line(job));
    this.running.set(k, run);
    let port: number | undefined;
    try {
      const d = this.deps.store.getDeployment(app, run.deployment);
      if (!d?.image) throw new Error(`deployment ${run.deployment} has no image`);
      // Only skips are recorded without a number, and they never start.
      if (run.n === null) throw new Error('a skipped run has no container');
      port = await this.deps.ports.allocate();
      const spec = this.deps.containers.spec({
        app,
        deployment: d.id,
        commit: d.commit,
        image: d.image,
        command: job.command,
        type: 'cron',
        label: `cron-${run.n}`,
        role: 'oneoff',
        port,
        name: cronRunName(app, run.n),
      });
      const ref = await this.deps.runtime.startContainer(spec);
      this.deps.store.cron.setContainer(run.id, ref.name);
      await this.watch(app, run, ref, run.startedAt + this.deps.timeoutMs);
    } catch (error) {
      this.deps.store.cron.finishRun(run.id, 'failed', null);
      this.deps.log(`${app}: cron job "${line(job)}" could not start: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.running.delete(k);
      if (port !== undefined) this.deps.ports.release(port);
    }
    await this.sweep(app).catch(() => undefined);
  }

  /** Waits for the run's end, stopping it at the deadline, and records how it ended. */
  private async watch(app: string, run: CronRunRecord, ref: ContainerRef, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const exited = this.deps.runtime.waitForExit(ref);
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, deadline - this.now()))));
    try {
      const first = await Promise.race([exited, late]);
      if (first === 'late') {
        this.deps.log(`${app}: cron-${run.n} ("${run.job}") ran longer than ${this.deps.timeoutMs / 1000} s (timeouts.cron) and is stopped`);
        await this.deps.runtime.stop(ref, this.deps.stopGraceMs(app));
        this.deps.store.cron.finishRun(run.id, 'timed-out', await exited.catch(() => null));
        return;
      }
      this.deps.store.cron.finishRun(run.id, first === 0 ? 'succeeded' : 'failed', first);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a previous server left going: watched again if their container still runs, closed otherwise. */
  private async adoptRuns(): Promise<void> {
    for (const run of this.deps.store.cron.running()) {
      const found = run.container
        ? (await this.deps.runtime.describeContainers({ [LABEL.app]: run.app, [LABEL.type]: 'cron' })).find((c) => c.name === run.container)
        : undefined;
      if (found?.state === 'running') {
        const k = key(run.app, run.job);
        this.running.set(k, run);
        this.track(
          this.watch(run.app, run, found, run.startedAt + this.deps.timeoutMs)
            .catch(() => this.deps.store.cron.finishRun(run.id, 'interrupted', null))
            .finally(() => this.running.delete(k)),
        );
      } else if (found && found.exitCode !== null) {
        this.deps.store.cron.finishRun(run.id, found.exitCode === 0 ? 'succeeded' : 'failed', found.exitCode);
      } else {
        this.deps.store.cron.finishRun(run.id, 'interrupted', null);
      }
    }
  }

  /** Removes ended runs' containers after an hour, keeping the latest few for their logs. */
  private async sweep(app: string): Promise<void> {
    const list = await this.deps.runtime.describeContainers({ [LABEL.app]: app, [LABEL.role]: 'oneoff', [LABEL.type]: 'cron' });
    const ended = list.filter((c) => c.state !== 'running' && c.finishedAt !== null).sort((a, b) => Date.parse(b.finishedAt!) - Date.parse(a.finishedAt!));
    const now = this.now();
    const old = ended.filter((c, i) => i >= KEEP_ENDED || now - Date.parse(c.finishedAt!) > KEEP_ENDED_MS);
    await Promise.all(old.map((c) => this.deps.runtime.stopAndRemove(c, 0)));
  }
}

function line(job: CronJob): string {
  return `${job.schedule} ${job.command}`;
}

/** A job's identity within its app: its line, so a new deployment with the same job overlaps with the old run. */
function key(app: string, jobLine: string): string {
  return `${app}\0${jobLine}`;
}
