import Database from 'better-sqlite3';
import { MetricsStore } from './metrics.js';
import { StatementCache } from './statements.js';
import type { Database as Db } from 'better-sqlite3';
import { readDirectory, readRoutes, readServingRoutes, type DirectoryRecord } from './routing.js';
import { MIGRATIONS } from './schema.js';
import { NotifierStore } from './notifiers.js';
import { CronStore } from './cron.js';
import { AcmeStore } from './acme.js';
import type { FinalStatus, Status } from '../deploy/status.js';

export interface AppRecord {
  name: string;
  createdAt: number;
  currentDeployment: number | null;
  settings: AppSettings;
  /** Visitors get a 503 maintenance page; the containers keep running. */
  maintenance: boolean;
}

/** Per-app overrides of the server's time limits, and resource limits; null means "the default". */
export interface AppSettings {
  bootTimeoutMs: number | null;
  hookTimeoutMs: number | null;
  stopTimeoutMs: number | null;
  /** Memory limit of each container, in MiB; null: none. */
  memoryMb: number | null;
  /** CPU limit of each container, in cores; null: none. */
  cpus: number | null;
  /** New web containers must answer GET on this path with 2xx/3xx before they get traffic; null: TCP only. */
  healthcheckPath: string | null;
  /** One health check's limit; null: the default. */
  healthcheckTimeoutMs: number | null;
  /** How often serving web containers are checked; null: the default. */
  healthcheckIntervalMs: number | null;
  /** The router answers HTTP requests with a redirect to HTTPS (ACME challenges excepted). */
  forceHttps: boolean;
  /** HTTPS answers carry Strict-Transport-Security. */
  hsts: boolean;
}

export interface DeploymentRecord {
  app: string;
  id: number;
  commit: string;
  ref: string;
  status: Status;
  reason: string | null;
  image: string | null;
  pushedBy: string | null;
  createdAt: number;
  finishedAt: number | null;
  /** The Procfile the image runs, kept so the image can run again without its commit. */
  procfile: string | null;
  /** Set on a rollback: the deployment whose image it runs again. */
  rollbackOf: number | null;
}

export interface NewDeployment {
  commit: string;
  ref: string;
  pushedBy: string | null;
  /** A rollback starts with the earlier deployment's image and Procfile. */
  rollbackOf?: DeploymentRecord;
}

export interface MountRecord {
  path: string;
  createdAt: number;
}

export interface PhaseRecord {
  phase: string;
  startedAt: number;
  finishedAt: number | null;
}

export interface RouteTarget {
  host: string;
  port: number;
  container: string;
}

export interface RouteRecord {
  app: string;
  deployment: number;
  targets: RouteTarget[];
}

interface DeploymentRow {
  app: string;
  id: number;
  commit_sha: string;
  ref: string;
  status: Status;
  reason: string | null;
  image: string | null;
  pushed_by: string | null;
  created_at: number;
  finished_at: number | null;
  procfile: string | null;
  rollback_of: number | null;
}

interface AppRow {
  name: string;
  created_at: number;
  current_deployment: number | null;
  boot_timeout_ms: number | null;
  hook_timeout_ms: number | null;
  stop_timeout_ms: number | null;
  memory_mb: number | null;
  cpus: number | null;
  maintenance: number;
  healthcheck_path: string | null;
  healthcheck_timeout_ms: number | null;
  healthcheck_interval_ms: number | null;
  force_https: number;
  hsts: number;
}

/** The only module that speaks SQL. Every write is one statement or one transaction. */
export class Store {
  private readonly db: Db;

  constructor(
    file: string,
    private readonly now: () => number = Date.now,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    this.notifiers = new NotifierStore(this.db, now);
    this.cron = new CronStore(this.db, now);
    this.acme = new AcmeStore(this.db, now);
    this.metrics = new MetricsStore(this.db);
  }

  /** Apps with automatic certificates (certs:auto) on. */
  readonly acme: AcmeStore;

  /** Apps' per-minute request and container metrics. */
  readonly metrics: MetricsStore;

  /** Cron jobs of deployments, and their runs. */
  readonly cron: CronStore;

  /** Deploy notifiers and their delivery queue. */
  readonly notifiers: NotifierStore;

  close(): void {
    this.db.close();
  }

  private statements: StatementCache | undefined;
  private readonly directoryListeners: (() => void)[] = [];

  private stmt(sql: string): Database.Statement {
    this.statements ??= new StatementCache(this.db);
    return this.statements.get(sql);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let i = version; i < MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[i]!);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  // ---- apps

  ensureApp(name: string): AppRecord {
    const { changes } = this.stmt('INSERT OR IGNORE INTO apps (name, created_at) VALUES (?, ?)').run(name, this.now());
    if (changes > 0) this.directoryChanged();
    return this.getApp(name)!;
  }

  /** Deletes the app and, through the schema's cascades, everything recorded about it. */
  deleteApp(name: string): void {
    if (this.stmt('DELETE FROM apps WHERE name = ?').run(name).changes > 0) this.directoryChanged();
  }

  /** Called after apps, custom domains or maintenance change: the router needs to know them. */
  onDirectoryChange(listener: () => void): void {
    this.directoryListeners.push(listener);
  }

  /** Every app name, every custom domain with its app, and the apps in maintenance. */
  directory(): DirectoryRecord {
    return readDirectory(this.db);
  }

  private directoryChanged(): void {
    for (const listener of this.directoryListeners) listener();
  }

  getApp(name: string): AppRecord | undefined {
    const row = this.stmt('SELECT * FROM apps WHERE name = ?').get(name) as AppRow | undefined;
    return row && toApp(row);
  }

  listApps(): AppRecord[] {
    return (this.stmt('SELECT * FROM apps ORDER BY name').all() as AppRow[]).map(toApp);
  }

  updateSettings(name: string, settings: Partial<AppSettings>): AppRecord {
    const current = this.getApp(name);
    if (!current) throw new Error(`app ${name} does not exist`);
    const merged = { ...current.settings, ...settings };
    this.db
      .prepare(
        'UPDATE apps SET boot_timeout_ms = ?, hook_timeout_ms = ?, stop_timeout_ms = ?, memory_mb = ?, cpus = ?, healthcheck_path = ?, healthcheck_timeout_ms = ?, healthcheck_interval_ms = ?, force_https = ?, hsts = ? WHERE name = ?',
      )
      .run(
        merged.bootTimeoutMs,
        merged.hookTimeoutMs,
        merged.stopTimeoutMs,
        merged.memoryMb,
        merged.cpus,
        merged.healthcheckPath,
        merged.healthcheckTimeoutMs,
        merged.healthcheckIntervalMs,
        merged.forceHttps ? 1 : 0,
        merged.hsts ? 1 : 0,
        name,
      );
    // The router redirects and adds HSTS from its directory.
    if (merged.forceHttps !== current.settings.forceHttps || merged.hsts !== current.settings.hsts) this.directoryChanged();
    return this.getApp(name)!;
  }

  setMaintenance(name: string, on: boolean): AppRecord {
    const { changes } = this.stmt('UPDATE apps SET maintenance = ? WHERE name = ? AND maintenance != ?').run(on ? 1 : 0, name, on ? 1 : 0);
    if (changes > 0) this.directoryChanged();
    const app = this.getApp(name);
    if (!app) throw new Error(`app ${name} does not exist`);
    return app;
  }

  // ---- env

  getEnv(app: string): Record<string, string> {
    const rows = this.stmt('SELECT key, value FROM env WHERE app = ? ORDER BY key').all(app) as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Applies all changes or none: a string sets a variable, null removes it. */
  patchEnv(app: string, changes: Record<string, string | null>): Record<string, string> {
    const set = this.stmt('INSERT INTO env (app, key, value) VALUES (?, ?, ?) ON CONFLICT (app, key) DO UPDATE SET value = excluded.value');
    const del = this.stmt('DELETE FROM env WHERE app = ? AND key = ?');
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) del.run(app, key);
        else set.run(app, key, value);
      }
    })();
    return this.getEnv(app);
  }

  // ---- deployments

  createDeployment(app: string, request: NewDeployment): DeploymentRecord {
    const from = request.rollbackOf;
    const insert = this.db.transaction(() => {
      const { next } = this.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS next FROM deployments WHERE app = ?').get(app) as { next: number };
      this.db
        .prepare(
          'INSERT INTO deployments (app, id, commit_sha, ref, status, pushed_by, created_at, image, procfile, rollback_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(app, next, request.commit, request.ref, 'queued', request.pushedBy, this.now(), from?.image ?? null, from?.procfile ?? null, from?.id ?? null);
      return next;
    });
    return this.getDeployment(app, insert())!;
  }

  /** A queued rollback runs `from`'s image and Procfile: its target is picked when its turn comes. */
  retargetRollback(app: string, id: number, from: DeploymentRecord): void {
    this.stmt('UPDATE deployments SET commit_sha = ?, ref = ?, image = ?, procfile = ?, rollback_of = ? WHERE app = ? AND id = ?').run(
      from.commit,
      from.ref,
      from.image,
      from.procfile,
      from.id,
      app,
      id,
    );
  }

  getDeployment(app: string, id: number): DeploymentRecord | undefined {
    const row = this.stmt('SELECT * FROM deployments WHERE app = ? AND id = ?').get(app, id) as DeploymentRow | undefined;
    return row && toDeployment(row);
  }

  listDeployments(app: string, limit = 100): DeploymentRecord[] {
    const rows = this.db.prepare('SELECT * FROM deployments WHERE app = ? ORDER BY id DESC LIMIT ?').all(app, limit) as DeploymentRow[];
    return rows.map(toDeployment);
  }

  /** Each app's latest deployment, in one query (the app list shows them all). */
  latestDeployments(): Map<string, DeploymentRecord> {
    const rows = this.stmt(
      'SELECT d.* FROM deployments d JOIN (SELECT app, MAX(id) AS id FROM deployments GROUP BY app) latest ON d.app = latest.app AND d.id = latest.id',
    ).all() as DeploymentRow[];
    return new Map(rows.map((row) => [row.app, toDeployment(row)]));
  }

  /** Deployments that never reached a final status (the server stopped while they ran). */
  listUnfinishedDeployments(): DeploymentRecord[] {
    const rows = this.db.prepare("SELECT * FROM deployments WHERE status IN ('queued', 'building', 'starting') ORDER BY app, id").all() as DeploymentRow[];
    return rows.map(toDeployment);
  }

  setStatus(app: string, id: number, status: Status): void {
    this.stmt('UPDATE deployments SET status = ? WHERE app = ? AND id = ?').run(status, app, id);
  }

  setImage(app: string, id: number, image: string | null): void {
    this.stmt('UPDATE deployments SET image = ? WHERE app = ? AND id = ?').run(image, app, id);
  }

  setProcfile(app: string, id: number, procfile: string): void {
    this.stmt('UPDATE deployments SET procfile = ? WHERE app = ? AND id = ?').run(procfile, app, id);
  }

  /** Forgets an image that was removed, in every deployment that ran it (rollbacks share images). */
  forgetImage(app: string, image: string): void {
    this.stmt('UPDATE deployments SET image = NULL WHERE app = ? AND image = ?').run(app, image);
  }

  finishDeployment(app: string, id: number, status: FinalStatus, reason: string | null): void {
    this.db.prepare('UPDATE deployments SET status = ?, reason = ?, finished_at = ? WHERE app = ? AND id = ?').run(status, reason, this.now(), app, id);
  }

  startPhase(app: string, id: number, phase: string): void {
    this.db.prepare('INSERT OR REPLACE INTO deployment_phases (app, deployment, phase, started_at) VALUES (?, ?, ?, ?)').run(app, id, phase, this.now());
  }

  finishPhase(app: string, id: number, phase: string): void {
    this.db
      .prepare('UPDATE deployment_phases SET finished_at = ? WHERE app = ? AND deployment = ? AND phase = ? AND finished_at IS NULL')
      .run(this.now(), app, id, phase);
  }

  listPhases(app: string, id: number): PhaseRecord[] {
    const rows = this.db
      .prepare('SELECT phase, started_at, finished_at FROM deployment_phases WHERE app = ? AND deployment = ? ORDER BY started_at, rowid')
      .all(app, id) as { phase: string; started_at: number; finished_at: number | null }[];
    return rows.map((r) => ({ phase: r.phase, startedAt: r.started_at, finishedAt: r.finished_at }));
  }

  appendOutput(app: string, id: number, lines: readonly string[]): void {
    if (lines.length === 0) return;
    const { next } = this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM deployment_output WHERE app = ? AND deployment = ?').get(app, id) as {
      next: number;
    };
    const insert = this.stmt('INSERT INTO deployment_output (app, deployment, seq, text) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      lines.forEach((line, i) => insert.run(app, id, next + i, line));
    })();
  }

  getOutput(app: string, id: number): string[] {
    const rows = this.db.prepare('SELECT text FROM deployment_output WHERE app = ? AND deployment = ? ORDER BY seq').all(app, id) as { text: string }[];
    return rows.map((r) => r.text);
  }

  // ---- tokens (only their SHA-256 hashes are stored)

  listTokens(): { name: string; createdAt: number }[] {
    const rows = this.stmt('SELECT name, created_at FROM tokens ORDER BY name').all() as { name: string; created_at: number }[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  /** Returns false when a token of that name exists. */
  addToken(name: string, hash: string): boolean {
    return this.stmt('INSERT OR IGNORE INTO tokens (name, hash, created_at) VALUES (?, ?, ?)').run(name, hash, this.now()).changes === 1;
  }

  removeToken(name: string): boolean {
    return this.stmt('DELETE FROM tokens WHERE name = ?').run(name).changes === 1;
  }

  tokenNameByHash(hash: string): string | undefined {
    return (this.stmt('SELECT name FROM tokens WHERE hash = ?').get(hash) as { name: string } | undefined)?.name;
  }

  tokenExists(name: string): boolean {
    return this.stmt('SELECT 1 FROM tokens WHERE name = ?').get(name) !== undefined;
  }

  // ---- custom domains

  listDomains(app: string): { domain: string; createdAt: number }[] {
    const rows = this.stmt('SELECT domain, created_at FROM domains WHERE app = ? ORDER BY domain').all(app) as {
      domain: string;
      created_at: number;
    }[];
    return rows.map((r) => ({ domain: r.domain, createdAt: r.created_at }));
  }

  appForDomain(domain: string): string | undefined {
    const row = this.stmt('SELECT app FROM domains WHERE domain = ?').get(domain) as { app: string } | undefined;
    return row?.app;
  }

  /** Returns false when the domain already belongs to an app. */
  addDomain(app: string, domain: string): boolean {
    const result = this.stmt('INSERT OR IGNORE INTO domains (domain, app, created_at) VALUES (?, ?, ?)').run(domain, app, this.now());
    if (result.changes === 1) this.directoryChanged();
    return result.changes === 1;
  }

  removeDomain(app: string, domain: string): boolean {
    const removed = this.stmt('DELETE FROM domains WHERE app = ? AND domain = ?').run(app, domain).changes === 1;
    if (removed) this.directoryChanged();
    return removed;
  }

  // ---- storage mounts

  listMounts(app: string): MountRecord[] {
    const rows = this.stmt('SELECT path, created_at FROM mounts WHERE app = ? ORDER BY path').all(app) as { path: string; created_at: number }[];
    return rows.map((r) => ({ path: r.path, createdAt: r.created_at }));
  }

  addMount(app: string, path: string): boolean {
    return this.stmt('INSERT OR IGNORE INTO mounts (app, path, created_at) VALUES (?, ?, ?)').run(app, path, this.now()).changes > 0;
  }

  removeMount(app: string, path: string): boolean {
    return this.stmt('DELETE FROM mounts WHERE app = ? AND path = ?').run(app, path).changes > 0;
  }

  // ---- one-off containers

  /** The next one-off number of the app: `one-off-<n>`, never reused. */
  nextOneOff(app: string): number {
    const row = this.stmt('UPDATE apps SET one_off_count = one_off_count + 1 WHERE name = ? RETURNING one_off_count').get(app) as
      { one_off_count: number } | undefined;
    if (!row) throw new Error(`no app named ${app}`);
    return row.one_off_count;
  }

  // ---- formation and routes

  /** Every app's formation, in one query. */
  listFormations(): Map<string, Map<string, number>> {
    const formations = new Map<string, Map<string, number>>();
    for (const r of this.stmt('SELECT app, type, count FROM formation').all() as { app: string; type: string; count: number }[]) {
      const formation = formations.get(r.app) ?? new Map<string, number>();
      formation.set(r.type, r.count);
      formations.set(r.app, formation);
    }
    return formations;
  }

  getFormation(app: string): Map<string, number> {
    const rows = this.stmt('SELECT type, count FROM formation WHERE app = ?').all(app) as { type: string; count: number }[];
    return new Map(rows.map((r) => [r.type, r.count]));
  }

  /**
   * Records a successful switch in one transaction: the app's current deployment, its
   * formation and the routes the router must serve after a restart.
   */
  recordSwitch(app: string, deployment: number, formation: ReadonlyMap<string, number>, targets: RouteTarget[]): void {
    this.db.transaction(() => {
      this.stmt('UPDATE apps SET current_deployment = ? WHERE name = ?').run(deployment, app);
      this.stmt('DELETE FROM formation WHERE app = ?').run(app);
      const insert = this.stmt('INSERT INTO formation (app, type, count) VALUES (?, ?, ?)');
      for (const [type, count] of formation) insert.run(app, type, count);
      this.db
        .prepare(
          'INSERT INTO routes (app, deployment, targets) VALUES (?, ?, ?) ON CONFLICT (app) DO UPDATE SET deployment = excluded.deployment, targets = excluded.targets',
        )
        .run(app, deployment, JSON.stringify(targets));
    })();
  }

  /** An in-place change (scale, restart): the same deployment, new counts or new web targets. */
  recordFormation(app: string, formation: ReadonlyMap<string, number>, targets?: RouteTarget[]): void {
    this.db.transaction(() => {
      const upsert = this.stmt('INSERT INTO formation (app, type, count) VALUES (?, ?, ?) ON CONFLICT (app, type) DO UPDATE SET count = excluded.count');
      for (const [type, count] of formation) upsert.run(app, type, count);
      if (targets) this.recordTargets(app, targets);
    })();
  }

  /** The web targets a restart has routed so far (same deployment, same counts). */
  recordTargets(app: string, targets: RouteTarget[]): void {
    this.stmt('UPDATE routes SET targets = ? WHERE app = ?').run(JSON.stringify(targets), app);
  }

  getRoute(app: string): RouteRecord | undefined {
    const row = this.stmt('SELECT app, deployment, targets FROM routes WHERE app = ?').get(app) as RouteRow | undefined;
    return row && toRoute(row);
  }

  listRoutes(): RouteRecord[] {
    return readRoutes(this.db);
  }

  /** The recorded routes of the apps that set a healthcheckPath (the health monitor reads them often). */
  listCheckedRoutes(): RouteRecord[] {
    const rows = this.stmt(
      'SELECT r.app, r.deployment, r.targets FROM routes r JOIN apps a ON a.name = r.app WHERE a.healthcheck_path IS NOT NULL',
    ).all() as RouteRow[];
    return rows.map(toRoute);
  }

  /** What the router serves: the recorded routes without the containers out of the rotation. */
  listServingRoutes(): RouteRecord[] {
    return readServingRoutes(this.db);
  }

  /**
   * The containers (engine names) the health monitor took out of the app's rotation, kept so
   * that a restarted server and a new router leave them out too. The recorded targets stay whole.
   */
  setOutOfRotation(app: string, containers: readonly string[]): void {
    this.stmt('UPDATE routes SET out_of_rotation = ? WHERE app = ?').run(JSON.stringify([...containers].sort()), app);
  }

  /** Every app's containers out of the rotation. */
  listOutOfRotation(): { app: string; containers: string[] }[] {
    const rows = this.stmt("SELECT app, out_of_rotation FROM routes WHERE out_of_rotation != '[]'").all() as { app: string; out_of_rotation: string }[];
    return rows.map((r) => ({ app: r.app, containers: JSON.parse(r.out_of_rotation) as string[] }));
  }
}

interface RouteRow {
  app: string;
  deployment: number;
  targets: string;
}

function toRoute(row: RouteRow): RouteRecord {
  return { app: row.app, deployment: row.deployment, targets: JSON.parse(row.targets) as RouteTarget[] };
}

function toApp(row: AppRow): AppRecord {
  return {
    name: row.name,
    createdAt: row.created_at,
    currentDeployment: row.current_deployment,
    settings: {
      bootTimeoutMs: row.boot_timeout_ms,
      hookTimeoutMs: row.hook_timeout_ms,
      stopTimeoutMs: row.stop_timeout_ms,
      memoryMb: row.memory_mb,
      cpus: row.cpus,
      healthcheckPath: row.healthcheck_path,
      healthcheckTimeoutMs: row.healthcheck_timeout_ms,
      healthcheckIntervalMs: row.healthcheck_interval_ms,
      forceHttps: row.force_https === 1,
      hsts: row.hsts === 1,
    },
    maintenance: row.maintenance === 1,
  };
}

function toDeployment(row: DeploymentRow): DeploymentRecord {
  return {
    app: row.app,
    id: row.id,
    commit: row.commit_sha,
    ref: row.ref,
    status: row.status,
    reason: row.reason,
    image: row.image,
    pushedBy: row.pushed_by,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    procfile: row.procfile,
    rollbackOf: row.rollback_of,
  };
}
