import type { Database as Db, Statement } from 'better-sqlite3';
import { StatementCache } from './statements.js';

/** Which apps have automatic certificates on (SQL for src/certs; only store/ speaks SQL). */
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
}
