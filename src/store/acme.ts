import type { Database as Db, Statement } from 'better-sqlite3';
import type { AcmeFailure } from '../certs/acme-manager.js';
import { StatementCache } from './statements.js';

/** Which apps have automatic certificates on, and the names whose orders fail (SQL for src/certs; only store/ speaks SQL). */
export class AcmeStore {
  private readonly statements: StatementCache;

  constructor(
    db: Db,
    private readonly now: () => number,
  ) {
    this.statements = new StatementCache(db);
  }

  private stmt(sql: string): Statement {
    return this.statements.get(sql);
  }

  /** Turns certs:auto on or off for the app (which must exist); returns whether it is on. */
  setEnabled(app: string, enabled: boolean): boolean {
    if (enabled) this.stmt('INSERT OR IGNORE INTO acme_apps (app, created_at) VALUES (?, ?)').run(app, this.now());
    else this.stmt('DELETE FROM acme_apps WHERE app = ?').run(app);
    return enabled;
  }

  isEnabled(app: string): boolean {
    return this.stmt('SELECT 1 FROM acme_apps WHERE app = ?').get(app) !== undefined;
  }

  /** Apps with certs:auto on, by name. */
  enabledApps(): string[] {
    return (this.stmt('SELECT app FROM acme_apps ORDER BY app').all() as { app: string }[]).map((r) => r.app);
  }

  /** The name's failed orders in a row, if its last order failed. */
  failure(domain: string): AcmeFailure | undefined {
    const row = this.stmt(
      'SELECT app, failures, last_error AS lastError, last_error_at AS lastErrorAt, next_attempt_at AS nextAttemptAt FROM acme_failures WHERE domain = ?',
    ).get(domain) as AcmeFailure | undefined;
    return row === undefined ? undefined : { ...row };
  }

  /** Records the name's latest failure (ignored when its app is gone: the failure goes with the app). */
  recordFailure(domain: string, f: AcmeFailure): void {
    this.stmt(
      `INSERT INTO acme_failures (domain, app, failures, last_error, last_error_at, next_attempt_at)
       SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM apps WHERE name = ?)
       ON CONFLICT (domain) DO UPDATE SET app = excluded.app, failures = excluded.failures, last_error = excluded.last_error,
         last_error_at = excluded.last_error_at, next_attempt_at = excluded.next_attempt_at`,
    ).run(domain, f.app, f.failures, f.lastError, f.lastErrorAt, f.nextAttemptAt, f.app);
  }

  clearFailure(domain: string): void {
    this.stmt('DELETE FROM acme_failures WHERE domain = ?').run(domain);
  }
}
