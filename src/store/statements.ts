import type { Database, Statement } from 'better-sqlite3';

/**
 * Prepares each query once and reuses it: the same few run for every API request, deploy phase
 * and container event, and preparing one costs more than running it.
 */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database) {}

  get(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/**
 * What a store of one capability (cron, notifiers) shares: its database, and `stmt(sql)`, each
 * query prepared once.
 */
export abstract class SqlStore {
  private readonly statements: StatementCache;

  constructor(protected readonly db: Database) {
    this.statements = new StatementCache(db);
  }

  protected stmt(sql: string): Statement {
    return this.statements.get(sql);
  }
}
