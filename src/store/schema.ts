/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    current_deployment INTEGER,
    boot_timeout_ms INTEGER,
    hook_timeout_ms INTEGER,
    stop_timeout_ms INTEGER
  );
  CREATE TABLE env (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (app, key)
  );
  CREATE TABLE deployments (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    commit_sha TEXT NOT NULL,
    ref TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    image TEXT,
    pushed_by TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (app, id)
  );
  CREATE TABLE deployment_phases (
    app TEXT NOT NULL,
    deployment INTEGER NOT NULL,
    phase TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (app, deployment, phase),
    FOREIGN KEY (app, deployment) REFERENCES deployments(app, id) ON DELETE CASCADE
  );
  CREATE TABLE deployment_output (
    app TEXT NOT NULL,
    deployment INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (app, deployment, seq),
    FOREIGN KEY (app, deployment) REFERENCES deployments(app, id) ON DELETE CASCADE
  );
  CREATE TABLE formation (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (app, type)
  );
  CREATE TABLE routes (
    app TEXT PRIMARY KEY REFERENCES apps(name) ON DELETE CASCADE,
    deployment INTEGER NOT NULL,
    targets TEXT NOT NULL
  );
  `,
  `
  CREATE TABLE domains (
    domain TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX domains_by_app ON domains (app);
  `,
  `
  ALTER TABLE apps ADD COLUMN memory_mb INTEGER;
  ALTER TABLE apps ADD COLUMN cpus REAL;
  `,
  `
  CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  `,
  `
  ALTER TABLE deployments ADD COLUMN procfile TEXT;
  ALTER TABLE deployments ADD COLUMN rollback_of INTEGER;
  ALTER TABLE apps ADD COLUMN one_off_count INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE mounts (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app, path)
  );
  `,
  `
  ALTER TABLE apps ADD COLUMN maintenance INTEGER NOT NULL DEFAULT 0;
  `,
  `
  CREATE TABLE notifiers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    format TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX notifiers_by_app ON notifiers (app);
  CREATE TABLE notifier_deliveries (
    id TEXT PRIMARY KEY,
    notifier INTEGER NOT NULL REFERENCES notifiers(id) ON DELETE CASCADE,
    app TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX notifier_deliveries_due ON notifier_deliveries (state, next_attempt_at);
  CREATE INDEX notifier_deliveries_by_app ON notifier_deliveries (app, created_at);
  `,
  `
  ALTER TABLE deployments ADD COLUMN cron TEXT;
  CREATE TABLE cron_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    n INTEGER,
    job TEXT NOT NULL,
    deployment INTEGER NOT NULL,
    container TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
  );
  CREATE INDEX cron_runs_by_job ON cron_runs (app, job, id);
  `,
  `
  ALTER TABLE apps ADD COLUMN healthcheck_path TEXT;
  ALTER TABLE apps ADD COLUMN healthcheck_timeout_ms INTEGER;
  ALTER TABLE apps ADD COLUMN healthcheck_interval_ms INTEGER;
  `,
  `
  ALTER TABLE routes ADD COLUMN out_of_rotation TEXT NOT NULL DEFAULT '[]';
  `,
  `
  ALTER TABLE apps ADD COLUMN force_https INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE apps ADD COLUMN hsts INTEGER NOT NULL DEFAULT 0;
  `,
  `
  CREATE TABLE acme_apps (
    app TEXT PRIMARY KEY REFERENCES apps(name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
  );
  `,
  `
  CREATE TABLE metric_minutes (
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    minute INTEGER NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (app, minute)
  );
  CREATE INDEX metric_minutes_by_minute ON metric_minutes (minute);
  `,
  `
  CREATE TABLE acme_failures (
    domain TEXT PRIMARY KEY,
    app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    last_error_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL
  );
  `,
];
