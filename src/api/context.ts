import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Identity, TokenAuth } from '../auth/tokens.js';
import type { AppContainers } from '../deploy/containers.js';
import type { Deployer } from '../deploy/deployer.js';
import type { AppDestroyer } from '../deploy/destroyer.js';
import type { Formation } from '../deploy/formation.js';
import type { Repos } from '../git/repos.js';
import type { Notifications } from '../notify/notifications.js';
import type { CronScheduler } from '../cron/scheduler.js';
import type { AcmeManager } from '../certs/acme-manager.js';
import type { HealthMonitor } from '../health/monitor.js';
import type { AppMetrics } from '../metrics/app-metrics.js';
import type { OneOffs } from '../run/oneoffs.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { Runtime } from '../runtime/runtime.js';
import type { AppRecord, DeploymentRecord, Store } from '../store/store.js';
import type { DashboardFiles } from './dashboard-files.js';
import type { CertificateDeps } from './routes/certs.js';
import { ApiError } from './errors.js';
import type { Reply } from './reply.js';
import type { Sessions } from './sessions.js';

export type Params = Record<string, string>;
export type Handler = (req: IncomingMessage, params: Params, res: ServerResponse) => Promise<Reply> | Reply;
/**
 * Takes over an authenticated HTTP Upgrade request's connection. It may throw an ApiError only
 * before it answers 101 (the error is then sent as JSON); it resolves when done with the socket.
 */
export type UpgradeHandler = (req: IncomingMessage, params: Params, socket: Duplex, head: Buffer) => Promise<void>;

/** Everything the API's route groups use; given once by the composition root. */
export interface ApiDeps {
  store: Store;
  auth: TokenAuth;
  deployer: Deployer;
  destroyer: AppDestroyer;
  repos: Repos;
  runtime: Runtime;
  containers: AppContainers;
  formation: Formation;
  oneOffs: OneOffs;
  notifications: Notifications;
  cron: CronScheduler;
  health: Pick<HealthMonitor, 'isUnhealthy'>;
  /** Automatic certificates: each name's ACME state, and `reconcile` after certs:auto changes. */
  autoCerts: Pick<AcmeManager, 'namesOf' | 'status' | 'reconcile'>;
  /** The router's access lines, apps' per-minute metrics, the Prometheus registry. */
  metrics: Pick<AppMetrics, 'accessLog' | 'accessLines' | 'prom' | 'series'>;
  ports: PortAllocator;
  appUrl(app: string): string;
  domain: string;
  /** Resolves once every router process has the directory as it is now (apps, domains, maintenance). */
  routersUpdated(): Promise<void>;
  /** Stored certificates, the default one, and what the ACME side reports (routes/certs.ts). */
  certificates: CertificateDeps;
  /** The web dashboard: its built files, its browser sessions, and whether cookies need TLS. */
  dashboard: { files: DashboardFiles; sessions: Sessions; secureCookies: boolean };
}

export interface RouteOptions {
  /** Reachable without a token or session (logging in). */
  anonymous?: boolean;
}

/** A group of endpoints registers itself with `add`, and finds its app or deployment with the lookups. */
export interface RouteContext extends ApiDeps {
  add(method: string, path: string, handler: Handler, options?: RouteOptions): void;
  /** Who made the request: its token's name, or the name its dashboard session logged in as. */
  identity(req: IncomingMessage): Identity;
  /** An endpoint reached with `Upgrade: <protocol>` (e.g. `slipway run`'s two-way stream). */
  upgrade(protocol: string, path: string, handler: UpgradeHandler): void;
  /** The app named in the path, or a 404 saying how to create it. */
  app(params: Params): AppRecord;
  /** The deployment named in the path, or a 404 saying how to list them. */
  deployment(params: Params): DeploymentRecord;
}

export function query(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://slipway').searchParams;
}

export function notFoundApp(name: string | undefined): ApiError {
  return new ApiError(404, 'app_not_found', `there is no app named "${name}"; push to create it`);
}
