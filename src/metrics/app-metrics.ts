/**
 * What the server knows of the apps' traffic and containers, fed by the router's batches and
 * the engine's stats: the access log, the per-minute series (persisted as minutes close), and
 * the Prometheus metrics. Wired in startSlipway; the API reads it.
 */
import { LABEL, labelOfName } from '../deploy/containers.js';
import type { DeploymentEvent } from '../deploy/deployer.js';
import type { AccessRecord, AppTraffic } from '../router/access.js';
import type { Runtime } from '../runtime/runtime.js';
import type { MetricsStore } from '../store/metrics.js';
import { AccessLog } from './access-log.js';
import { MEMORY_MINUTES, MINUTE_MS, MinuteSeries, type MinuteSummary } from './minutes.js';
import { PromMetrics } from './prometheus.js';

/** How often containers' CPU and memory are sampled (one engine call per container). */
const SAMPLE_EVERY_MS = 15_000;
const ROLL_EVERY_MS = 5_000;

export interface AppMetricsDeps {
  store: Pick<MetricsStore, 'saveMinute' | 'minutes' | 'since' | 'prune'>;
  runtime: Pick<Runtime, 'describeContainers' | 'containerStats'>;
  /** The apps whose containers are sampled. */
  apps(): string[];
  /** The phases of a finished deployment, for their durations. */
  phases(app: string, deployment: number): { phase: string; startedAt: number; finishedAt: number | null }[];
  accessLogLines: number;
  /** Told the apps whose access log someone follows, whenever that set changes. */
  followed?: (apps: string[]) => void;
  /** Gets the routers' latest access lines in (they send those of apps nobody follows only every few seconds). */
  sendLines?: () => Promise<void>;
  /** Hours of minutes kept in the database (0: none persisted). */
  historyHours: number;
  log(line: string): void;
  now?: () => number;
}

export class AppMetrics {
  readonly accessLog: AccessLog;
  readonly prom = new PromMetrics();
  private readonly minutes: MinuteSeries;
  private readonly now: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private sampling: Promise<void> | undefined;
  private stopped = false;
  private readonly labels = new Map<string, string>();

  constructor(private readonly deps: AppMetricsDeps) {
    this.now = deps.now ?? Date.now;
    this.accessLog = new AccessLog(deps.accessLogLines, deps.followed);
    this.minutes = new MinuteSeries(this.now, (app, summary) => this.persist(app, summary));
  }

  /** Restores the last hour from the database, then samples and rolls minutes on timers. */
  start(): void {
    if (this.deps.historyHours > 0) {
      const byApp = new Map<string, MinuteSummary[]>();
      for (const { app, summary } of this.deps.store.since(this.now() - MEMORY_MINUTES * MINUTE_MS)) {
        byApp.set(app, [...(byApp.get(app) ?? []), summary]);
      }
      for (const [app, summaries] of byApp) this.minutes.restore(app, summaries);
    }
    const every = (ms: number, task: () => void): void => {
      const timer = setInterval(task, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(ROLL_EVERY_MS, () => this.minutes.roll());
    every(SAMPLE_EVERY_MS, () => void this.sample());
    every(60 * MINUTE_MS, () => this.prune());
    this.prune();
    void this.sample();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.sampling;
    // The minute so far, so a restart does not lose it.
    for (const { app, summary } of this.minutes.openSummaries()) this.persist(app, summary);
  }

  /** The app's latest `count` access lines, oldest first, with those the routers held until now. */
  async accessLines(app: string, count: number): Promise<AccessRecord[]> {
    await this.deps.sendLines?.();
    return this.accessLog.tail(app, count);
  }

  /** What a router sent: each app's requests, summed, with their lines. */
  onRequests(traffic: readonly AppTraffic[]): void {
    for (const { app, lines } of traffic) {
      for (const r of lines) if (r[7] !== '') r[7] = this.labelOf(app, r[7]);
      this.accessLog.add(lines);
    }
    this.minutes.addTraffic(traffic);
    this.prom.addTraffic(traffic);
  }

  onDeployment(event: DeploymentEvent): void {
    if (event.kind !== 'finished') return;
    const { app, id } = event.deployment;
    const phases = this.deps
      .phases(app, id)
      .filter((p) => p.finishedAt !== null)
      .map((p) => ({ phase: p.phase, seconds: (p.finishedAt! - p.startedAt) / 1000 }));
    this.prom.deploymentFinished(app, event.status, phases);
  }

  /** The app's minutes since `sinceMs` ago, the current one last. */
  series(app: string, sinceMs: number): MinuteSummary[] {
    return this.minutes.series(app, this.now() - sinceMs, (from, to) => this.deps.store.minutes(app, from, to));
  }

  /** Forgets the apps not in `apps` (deleted: their rows went with them in the database). */
  keepApps(apps: readonly string[]): void {
    const exists = new Set(apps);
    for (const app of new Set([...this.accessLog.apps(), ...this.minutes.apps()])) if (!exists.has(app)) this.forget(app);
  }

  /** A deleted app: its lines and series go (its rows go with it in the database). */
  forget(app: string): void {
    this.accessLog.forget(app);
    this.minutes.forget(app);
    this.prom.forgetApp(app);
  }

  /** Engine names repeat from one request to the next: each is worked out once. */
  private labelOf(app: string, engineName: string): string {
    let label = this.labels.get(engineName);
    if (label === undefined) {
      if (this.labels.size >= 10_000) this.labels.clear();
      this.labels.set(engineName, (label = labelOfName(app, engineName)));
    }
    return label;
  }

  private persist(app: string, summary: MinuteSummary): void {
    if (this.deps.historyHours === 0) return;
    try {
      this.deps.store.saveMinute(app, summary);
    } catch (error) {
      this.deps.log(`metrics: could not save a minute of ${app}: ${String(error)}`);
    }
  }

  private prune(): void {
    try {
      this.deps.store.prune(this.now() - Math.max(this.deps.historyHours * 60, MEMORY_MINUTES) * MINUTE_MS);
    } catch (error) {
      this.deps.log(`metrics: could not prune old minutes: ${String(error)}`);
    }
  }

  /** Every app's running process containers: CPU, memory, restarts. One round at a time. */
  private sample(): Promise<void> {
    if (this.sampling !== undefined || this.stopped) return this.sampling ?? Promise.resolve();
    this.sampling = (async () => {
      for (const app of this.deps.apps()) {
        if (this.stopped) return;
        try {
          await this.sampleApp(app);
        } catch {
          // The engine is away or the app went meanwhile: the next round tries again.
        }
      }
    })().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async sampleApp(app: string): Promise<void> {
    const containers = (await this.deps.runtime.describeContainers({ [LABEL.app]: app })).filter(
      (c) => c.state === 'running' && c.labels[LABEL.role] === 'process' && c.labels[LABEL.container] !== undefined,
    );
    const samples = await Promise.all(
      containers.map(async (c) => ({ container: c.labels[LABEL.container]!, restarts: c.restartCount, stats: await this.deps.runtime.containerStats(c) })),
    );
    for (const { container, stats } of samples) if (stats !== null) this.minutes.addSample(app, container, stats);
    this.prom.containers(app, samples);
  }
}
