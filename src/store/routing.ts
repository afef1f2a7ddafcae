import Database from 'better-sqlite3';
import type { RouteRecord, RouteTarget } from './store.js';

/** What a router needs from the store: the apps (404 versus 503), custom domains, maintenance. */
export interface DirectoryRecord {
  apps: string[];
  /** Custom domain → app. */
  domains: [string, string][];
  maintenance: string[];
  /** Apps whose HTTP requests are redirected to HTTPS (absent: none). */
  forceHttps?: string[];
  /** Apps whose HTTPS answers carry Strict-Transport-Security (absent: none). */
  hsts?: string[];
}

/** The queries both the server's Store and the router process's read-only view run. */
export function readDirectory(db: Database.Database): DirectoryRecord {
  const rows = db.prepare('SELECT name, maintenance, force_https, hsts FROM apps').all() as {
    name: string;
    maintenance: number;
    force_https: number;
    hsts: number;
  }[];
  const domains = (db.prepare('SELECT domain, app FROM domains').all() as { domain: string; app: string }[]).map((r): [string, string] => [r.domain, r.app]);
  return {
    apps: rows.map((r) => r.name),
    domains,
    maintenance: rows.filter((r) => r.maintenance === 1).map((r) => r.name),
    forceHttps: rows.filter((r) => r.force_https === 1).map((r) => r.name),
    hsts: rows.filter((r) => r.hsts === 1).map((r) => r.name),
  };
}

export function readRoutes(db: Database.Database): RouteRecord[] {
  const rows = db.prepare('SELECT app, deployment, targets FROM routes').all() as { app: string; deployment: number; targets: string }[];
  return rows.map((row) => ({ app: row.app, deployment: row.deployment, targets: JSON.parse(row.targets) as RouteTarget[] }));
}

/**
 * The targets the router serves: the recorded ones but the containers the health monitor took out
 * of the rotation (by engine name), never none (a failing container answers better than none).
 */
export function servingTargets(targets: readonly RouteTarget[], outOfRotation: readonly string[]): RouteTarget[] {
  const serving = targets.filter((t) => !outOfRotation.includes(t.container));
  return serving.length > 0 ? serving : [...targets];
}

/** What the router serves for each app: the recorded routes without the containers out of the rotation. */
export function readServingRoutes(db: Database.Database): RouteRecord[] {
  // A router upgraded before the server may read a database the new schema has not reached yet.
  const columns = db.pragma('table_info(routes)') as { name: string }[];
  if (!columns.some((c) => c.name === 'out_of_rotation')) return readRoutes(db);
  const rows = db.prepare('SELECT app, deployment, targets, out_of_rotation FROM routes').all() as {
    app: string;
    deployment: number;
    targets: string;
    out_of_rotation: string;
  }[];
  return rows.map((row) => ({
    app: row.app,
    deployment: row.deployment,
    targets: servingTargets(JSON.parse(row.targets) as RouteTarget[], JSON.parse(row.out_of_rotation) as string[]),
  }));
}

/**
 * The last routes (as served: without containers out of the rotation) and directory the server
 * recorded, read without writing anything (the router process starts from them before the server
 * is up). A data directory the server never used, or whose database it is creating right now (the
 * server starts its router first), routes nothing yet.
 */
export function readRoutingSnapshot(dbFile: string): { directory: DirectoryRecord; routes: RouteRecord[] } {
  const nothing = { directory: { apps: [], domains: [], maintenance: [] }, routes: [] };
  let db: Database.Database;
  try {
    db = new Database(dbFile, { readonly: true, fileMustExist: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_CANTOPEN') return nothing;
    throw error;
  }
  try {
    db.pragma('busy_timeout = 5000');
    return db.transaction(() => {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('routes', 'domains')").all();
      if (tables.length < 2) return nothing;
      return { directory: readDirectory(db), routes: readServingRoutes(db) };
    })();
  } finally {
    db.close();
  }
}
