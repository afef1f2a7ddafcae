import type { Database as Db } from 'better-sqlite3';
import type { MinuteSummary } from '../metrics/minutes.js';
import { StatementCache } from './statements.js';

/** Apps' per-minute metrics (src/metrics), kept so a server restart does not blank them. */
export class MetricsStore {
  private readonly statements: StatementCache;

  constructor(db: Db) {
    this.statements = new StatementCache(db);
  }

  /** One closed minute of an app; an app deleted meanwhile is skipped. */
  saveMinute(app: string, summary: MinuteSummary): void {
    this.statements
      .get('INSERT OR REPLACE INTO metric_minutes (app, minute, summary) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM apps WHERE name = ?)')
      .run(app, summary.minute, JSON.stringify(summary), app);
  }

  /** The app's minutes in [from, to), oldest first. */
  minutes(app: string, from: number, to: number): MinuteSummary[] {
    const rows = this.statements.get('SELECT summary FROM metric_minutes WHERE app = ? AND minute >= ? AND minute < ? ORDER BY minute').all(app, from, to) as {
      summary: string;
    }[];
    return rows.map((r) => JSON.parse(r.summary) as MinuteSummary);
  }

  /** Every app's minutes from `from` on (to fill memory when the server starts). */
  since(from: number): { app: string; summary: MinuteSummary }[] {
    const rows = this.statements.get('SELECT app, summary FROM metric_minutes WHERE minute >= ? ORDER BY minute').all(from) as {
      app: string;
      summary: string;
    }[];
    return rows.map((r) => ({ app: r.app, summary: JSON.parse(r.summary) as MinuteSummary }));
  }

  /** Drops minutes older than `before`. */
  prune(before: number): void {
    this.statements.get('DELETE FROM metric_minutes WHERE minute < ?').run(before);
  }
}
