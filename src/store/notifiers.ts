import type { Database as Db } from 'better-sqlite3';
import { SqlStore } from './statements.js';

/** `json`: signed JSON; `slack`: a Slack/Mattermost incoming-webhook message. */
export type NotifierFormat = 'json' | 'slack';

export interface NotifierRecord {
  id: number;
  app: string;
  url: string;
  /** Empty: every event. */
  events: string[];
  format: NotifierFormat;
  /** Signs `json` deliveries; shown to the user once, at creation. */
  secret: string;
  createdAt: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface DeliveryRecord {
  id: string;
  notifier: number;
  app: string;
  event: string;
  /** The exact body sent on every attempt (its signature covers these bytes). */
  body: string;
  state: DeliveryState;
  attempts: number;
  /** The last attempt's HTTP status, or null when it got none. */
  statusCode: number | null;
  /** Why the last attempt failed, or null. */
  error: string | null;
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
}

interface NotifierRow {
  id: number;
  app: string;
  url: string;
  events: string;
  format: NotifierFormat;
  secret: string;
  created_at: number;
}

interface DeliveryRow {
  id: string;
  notifier: number;
  app: string;
  event: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  status_code: number | null;
  error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Notifiers and their delivery queue (SQL for src/notify; only store/ speaks SQL). */
export class NotifierStore extends SqlStore {
  constructor(
    db: Db,
    private readonly now: () => number,
  ) {
    super(db);
  }

  add(app: string, notifier: { url: string; events: string[]; format: NotifierFormat; secret: string }): NotifierRecord {
    const { lastInsertRowid } = this.stmt('INSERT INTO notifiers (app, url, events, format, secret, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      app,
      notifier.url,
      notifier.events.join(','),
      notifier.format,
      notifier.secret,
      this.now(),
    );
    return this.get(app, Number(lastInsertRowid))!;
  }

  get(app: string, id: number): NotifierRecord | undefined {
    const row = this.stmt('SELECT * FROM notifiers WHERE app = ? AND id = ?').get(app, id) as NotifierRow | undefined;
    return row && toNotifier(row);
  }

  list(app: string): NotifierRecord[] {
    return (this.stmt('SELECT * FROM notifiers WHERE app = ? ORDER BY id').all(app) as NotifierRow[]).map(toNotifier);
  }

  /** Removes the notifier and its deliveries, pending ones included. */
  remove(app: string, id: number): boolean {
    return this.stmt('DELETE FROM notifiers WHERE app = ? AND id = ?').run(app, id).changes === 1;
  }

  /** Queues one delivery per notifier, all in one transaction. */
  enqueue(deliveries: readonly { id: string; notifier: number; app: string; event: string; body: string }[]): void {
    const insert = this.stmt(
      "INSERT INTO notifier_deliveries (id, notifier, app, event, body, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
    );
    const now = this.now();
    this.db.transaction(() => {
      for (const d of deliveries) insert.run(d.id, d.notifier, d.app, d.event, d.body, now, now, now);
    })();
  }

  getDelivery(id: string): DeliveryRecord | undefined {
    const row = this.stmt('SELECT * FROM notifier_deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  }

  /** Pending deliveries due by `at`, oldest first. */
  due(at: number, limit: number): DeliveryRecord[] {
    const rows = this.stmt(
      "SELECT * FROM notifier_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?",
    ).all(at, limit) as DeliveryRow[];
    return rows.map(toDelivery);
  }

  /** When the next pending delivery is due, or null when none is pending. */
  nextDueAt(): number | null {
    const row = this.stmt("SELECT MIN(next_attempt_at) AS at FROM notifier_deliveries WHERE state = 'pending'").get() as { at: number | null };
    return row.at;
  }

  /** Records an attempt's outcome: the new state, and when to try again if still pending. */
  recordAttempt(id: string, outcome: { state: DeliveryState; statusCode: number | null; error: string | null; nextAttemptAt: number | null }): void {
    this.stmt(
      'UPDATE notifier_deliveries SET state = ?, attempts = attempts + 1, status_code = ?, error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?',
    ).run(outcome.state, outcome.statusCode, outcome.error, outcome.nextAttemptAt, this.now(), id);
  }

  /** The app's latest deliveries, newest first; of one notifier when given. */
  deliveries(app: string, notifier: number | undefined, limit: number): DeliveryRecord[] {
    const rows = (
      notifier === undefined
        ? this.stmt('SELECT * FROM notifier_deliveries WHERE app = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(app, limit)
        : this.stmt('SELECT * FROM notifier_deliveries WHERE app = ? AND notifier = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(app, notifier, limit)
    ) as DeliveryRow[];
    return rows.map(toDelivery);
  }

  /** Keeps each notifier's latest `keep` finished deliveries; pending ones always stay. */
  prune(keep: number): void {
    this.stmt(
      `DELETE FROM notifier_deliveries WHERE state != 'pending' AND rowid IN (
         SELECT rowid FROM (
           SELECT rowid, ROW_NUMBER() OVER (PARTITION BY notifier ORDER BY created_at DESC, rowid DESC) AS n
           FROM notifier_deliveries WHERE state != 'pending'
         ) WHERE n > ?
       )`,
    ).run(keep);
  }
}

function toNotifier(row: NotifierRow): NotifierRecord {
  return {
    id: row.id,
    app: row.app,
    url: row.url,
    events: row.events === '' ? [] : row.events.split(','),
    format: row.format,
    secret: row.secret,
    createdAt: row.created_at,
  };
}

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    notifier: row.notifier,
    app: row.app,
    event: row.event,
    body: row.body,
    state: row.state,
    attempts: row.attempts,
    statusCode: row.status_code,
    error: row.error,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
