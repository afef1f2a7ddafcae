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
