import type { Database as Db } from 'better-sqlite3';
import { SqlStore } from './statements.js';

/** One job of a deployment's cron.json, as checked at build time. */
export interface CronJob {
  /** Five fields (minute hour day month weekday) or a nickname such as @hourly. */
  schedule: string;
  command: string;
}

export type CronRunStatus = 'running' | 'succeeded' | 'failed' | 'timed-out' | 'skipped' | 'interrupted';

export interface CronRunRecord {
  id: number;
  app: string;
  /** `cron-<n>`'s n; null for a skip (no container). */
  n: number | null;
  /** The job's schedule and command, as written. */
  job: string;
  deployment: number;
  /** The engine's name for the run's container. */
  container: string | null;
  status: CronRunStatus;
  exitCode: number | null;
  startedAt: number;
  finishedAt: number | null;
}

interface CronRunRow {
  id: number;
  app: string;
  n: number | null;
  job: string;
  deployment: number;
  container: string | null;
  status: CronRunStatus;
  exit_code: number | null;
  started_at: number;
  finished_at: number | null;
}

/** Runs kept per app for `slipway cron`. */
const KEEP_RUNS = 200;

/** Each deployment's cron jobs, and the record of runs (SQL for src/cron; only store/ speaks SQL). */
export class CronStore extends SqlStore {
  constructor(
    db: Db,
    private readonly now: () => number,
  ) {
    super(db);
  }

  setJobs(app: string, deployment: number, jobs: readonly CronJob[]): void {
    this.stmt('UPDATE deployments SET cron = ? WHERE app = ? AND id = ?').run(JSON.stringify(jobs), app, deployment);
  }

  /** The jobs a deployment's commit declared (a rollback: those of the deployment it runs again). */
  jobsOf(app: string, deployment: number): CronJob[] {
    let id: number | null = deployment;
    // A rollback of a rollback points further back; the chain is short, but never loop on it.
    for (let hops = 0; id !== null && hops < 100; hops++) {
      const row = this.stmt('SELECT cron, rollback_of FROM deployments WHERE app = ? AND id = ?').get(app, id) as
        { cron: string | null; rollback_of: number | null } | undefined;
      if (!row) return [];
      if (row.rollback_of === null) return row.cron === null ? [] : (JSON.parse(row.cron) as CronJob[]);
      id = row.rollback_of;
    }
    return [];
  }

  /** Records a run that starts now; returns it with its number n (cron-<n>), never reused in the app. */
  startRun(app: string, job: string, deployment: number): CronRunRecord {
    const row = this.db.transaction(() => {
      const { next } = this.stmt('SELECT COALESCE(MAX(n), 0) + 1 AS next FROM cron_runs WHERE app = ?').get(app) as { next: number };
      return this.stmt("INSERT INTO cron_runs (app, n, job, deployment, status, started_at) VALUES (?, ?, ?, ?, 'running', ?) RETURNING *").get(
        app,
        next,
        job,
        deployment,
        this.now(),
      ) as CronRunRow;
    })();
    this.prune(app);
    return toRun(row);
  }

  setContainer(id: number, container: string): void {
    this.stmt('UPDATE cron_runs SET container = ? WHERE id = ?').run(container, id);
  }

  finishRun(id: number, status: Exclude<CronRunStatus, 'running' | 'skipped'>, exitCode: number | null): void {
    this.stmt('UPDATE cron_runs SET status = ?, exit_code = ?, finished_at = ? WHERE id = ?').run(status, exitCode, this.now(), id);
  }

  /** A time the job was due but its previous run was still going. */
  recordSkip(app: string, job: string, deployment: number): void {
    const now = this.now();
    this.stmt("INSERT INTO cron_runs (app, n, job, deployment, status, started_at, finished_at) VALUES (?, NULL, ?, ?, 'skipped', ?, ?)").run(
      app,
      job,
      deployment,
      now,
      now,
    );
    this.prune(app);
  }

  /** The job's latest ended run (skips aside), its latest skip, and how many skips are recorded. */
  latest(app: string, job: string): { run: CronRunRecord | undefined; skip: CronRunRecord | undefined; skips: number } {
    const run = this.stmt("SELECT * FROM cron_runs WHERE app = ? AND job = ? AND status NOT IN ('skipped', 'running') ORDER BY id DESC LIMIT 1").get(
      app,
      job,
    ) as CronRunRow | undefined;
    const skip = this.stmt("SELECT * FROM cron_runs WHERE app = ? AND job = ? AND status = 'skipped' ORDER BY id DESC LIMIT 1").get(app, job) as
      CronRunRow | undefined;
    const { skips } = this.stmt("SELECT COUNT(*) AS skips FROM cron_runs WHERE app = ? AND job = ? AND status = 'skipped'").get(app, job) as {
      skips: number;
    };
    return { run: run && toRun(run), skip: skip && toRun(skip), skips };
  }

  /** Runs recorded as running (a server that stopped meanwhile left them so). */
  running(): CronRunRecord[] {
    return (this.stmt("SELECT * FROM cron_runs WHERE status = 'running' ORDER BY id").all() as CronRunRow[]).map(toRun);
  }

  private prune(app: string): void {
    this.stmt('DELETE FROM cron_runs WHERE app = ? AND id <= (SELECT id FROM cron_runs WHERE app = ? ORDER BY id DESC LIMIT 1 OFFSET ?)').run(
      app,
      app,
      KEEP_RUNS,
    );
  }
}

function toRun(row: CronRunRow): CronRunRecord {
  return {
    id: row.id,
    app: row.app,
    n: row.n,
    job: row.job,
    deployment: row.deployment,
    container: row.container,
    status: row.status,
    exitCode: row.exit_code,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
