import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppRecord, DeploymentRecord } from '../store/store.js';
import type { Identity } from '../auth/tokens.js';
import { notFoundApp, type ApiDeps, type Handler, type Params, type RouteContext, type RouteOptions, type UpgradeHandler } from './context.js';
import { DeployerClosedError } from '../deploy/deployer.js';
import { DeployFailure } from '../deploy/failure.js';
import { FormationError } from '../deploy/formation.js';
import { RuntimeUnavailableError } from '../runtime/runtime.js';
import { ApiError } from './errors.js';
import { send, type OperationFailure, type Reply } from './reply.js';
import { appRoutes } from './routes/apps.js';
import { deploymentRoutes } from './routes/deployments.js';
import { domainRoutes } from './routes/domains.js';
import { certificateRoutes } from './routes/certs.js';
import { certsAutoRoutes } from './routes/certs-auto.js';
import { envRoutes } from './routes/env.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { nodeRoutes } from './routes/nodes.js';
import { metricRoutes } from './routes/metrics.js';
import { notifierRoutes } from './routes/notifiers.js';
import { cronRoutes } from './routes/cron.js';
import { debugRoutes } from './routes/debug.js';
import { psRoutes } from './routes/ps.js';
import { releaseRoutes } from './routes/releases.js';
import { runRoutes } from './routes/run.js';
import { sessionRoutes } from './routes/session.js';
import { settingsRoutes } from './routes/settings.js';
import { storageRoutes } from './routes/storage.js';
import { tokenRoutes } from './routes/tokens.js';
import { refuseUpgrade } from './upgrade.js';

interface RouteDef<H = Handler> {
  /** The HTTP method; for an upgrade endpoint, the protocol. */
  method: string;
  pattern: RegExp;
  names: string[];
  handler: H;
  anonymous?: boolean;
}

/** Each group of endpoints lives in its own module under routes/. */
const ROUTE_GROUPS: ((ctx: RouteContext) => void)[] = [
  appRoutes,
  tokenRoutes,
  deploymentRoutes,
  psRoutes,
  envRoutes,
  domainRoutes,
  certificateRoutes,
  certsAutoRoutes,
  settingsRoutes,
  releaseRoutes,
  storageRoutes,
  logRoutes,
  metricRoutes,
  runRoutes,
  notifierRoutes,
  cronRoutes,
  nodeRoutes,
  sessionRoutes,
  eventRoutes,
  debugRoutes,
];

/** Methods that change nothing: a session's cookie alone is enough for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The JSON API under `/api`: authentication, routing to the groups' handlers, errors as JSON. */
export class Api {
  private readonly routes: RouteDef[] = [];
  private readonly upgrades: RouteDef<UpgradeHandler>[] = [];
  /** Upgraded connections still open, and when their handlers are done with them. */
  private readonly sessions = new Map<Duplex, Promise<void>>();
  /** Who made each request being answered, found once by `authenticate`. */
  private readonly identities = new WeakMap<IncomingMessage, Identity>();

  constructor(private readonly deps: ApiDeps) {
    const ctx: RouteContext = {
      ...deps,
      add: (method, path, handler, options) => this.add(method, path, handler, options),
      identity: (req) => {
        const identity = this.identities.get(req);
        if (!identity) throw new ApiError(401, 'unauthorized', 'log in first');
        return identity;
      },
      upgrade: (protocol, path, handler) => void this.upgrades.push({ method: protocol.toLowerCase(), ...compile(path), handler }),
      app: (params) => this.app(params),
      deployment: (params) => this.deployment(params),
    };
    for (const group of ROUTE_GROUPS) group(ctx);
  }

  /** Handles `/api/...` requests, and GETs of the dashboard's pages; returns false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://slipway');
    // `/metrics` is where Prometheus scrapers look; everything else of the API is under /api.
    if (url.pathname !== '/api' && !url.pathname.startsWith('/api/') && url.pathname !== '/metrics') return this.deps.dashboard.files.handle(req, res);
    this.dispatch(req, res, url.pathname)
      .then((reply) => send(res, reply, operationFailure))
      .catch((error: unknown) => {
        const apiError = asApiError(error);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // The unread rest of an oversized body must not be taken for the next request.
        if (apiError.status === 413) res.setHeader('connection', 'close');
        send(res, { status: apiError.status, json: { error: apiError.code, message: apiError.message } }, operationFailure);
      });
    return true;
  }

  /**
   * Handles `/api/...` HTTP Upgrade requests (`slipway run`): authenticated like any request,
   * then the endpoint owns the socket. Returns false for anything else.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://slipway');
    if (!url.pathname.startsWith('/api/')) return false;
    socket.on('error', () => socket.destroy());
    const done = this.dispatchUpgrade(req, socket, head, url.pathname)
      .catch((error: unknown) => refuseUpgrade(socket, asApiError(error)))
      .finally(() => this.sessions.delete(socket));
    this.sessions.set(socket, done);
    return true;
  }

  /** Ends the upgraded connections (their endpoints clean up after them) and waits until they have. */
  async close(): Promise<void> {
    for (const socket of this.sessions.keys()) socket.destroy();
    await Promise.all(this.sessions.values());
  }

  private async dispatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathname: string): Promise<void> {
    // Tokens only: the dashboard does not run one-offs, and a cookie must not open a shell.
    if (!this.deps.auth.fromRequest(req)) {
      throw new ApiError(401, 'unauthorized', 'a valid token is required: send "Authorization: Bearer <token>"');
    }
    const protocol = (req.headers.upgrade ?? '').toLowerCase();
    for (const route of this.upgrades) {
      const match = route.pattern.exec(pathname);
      if (match && route.method === protocol) return route.handler(req, paramsOf(route, match), socket, head);
    }
    throw new ApiError(404, 'not_found', `there is no ${protocol} endpoint at ${pathname}; see the README's API section`);
  }

  /**
   * A token (`Authorization`), or a dashboard session's cookie; a request that changes something
   * with a cookie must also come from the dashboard's own page (Origin, CSRF token).
   */
  private authenticate(req: IncomingMessage): void {
    const byToken = this.deps.auth.fromRequest(req);
    if (byToken) {
      this.identities.set(req, byToken);
      return;
    }
    const { sessions } = this.deps.dashboard;
    const session = sessions.fromRequest(req);
    if (!session) {
      throw new ApiError(401, 'unauthorized', 'a valid token is required: send "Authorization: Bearer <token>" (or log in to the dashboard)');
    }
    if (!SAFE_METHODS.has(req.method ?? '')) {
      const problem = sessions.csrfProblem(req, session);
      if (problem === 'origin') throw new ApiError(403, 'cross_site', 'this request came from another site; changes are made from the dashboard itself');
      if (problem === 'token') throw new ApiError(403, 'csrf_token', "the request lacks this session's CSRF token; reload the dashboard and try again");
    }
    this.identities.set(req, session.identity);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<Reply> {
    if (pathname === '/api/health' && req.method === 'GET') return { json: { status: 'ok' } };
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      if (!route.anonymous) this.authenticate(req);
      return route.handler(req, paramsOf(route, match), res);
    }
    this.authenticate(req);
    if (pathMatched) throw new ApiError(405, 'method_not_allowed', `${req.method} is not supported on ${pathname}`);
    throw new ApiError(404, 'not_found', `there is no API endpoint ${pathname}; see the README's API section`);
  }

  private add(method: string, path: string, handler: Handler, options: RouteOptions = {}): void {
    this.routes.push({ method, ...compile(path), handler, anonymous: options.anonymous === true });
  }

  private app(params: Params): AppRecord {
    const app = this.deps.store.getApp(params.app ?? '');
    if (!app) throw notFoundApp(params.app);
    return app;
  }

  private deployment(params: Params): DeploymentRecord {
    const app = this.app(params);
    const id = Number(params.id);
    const d = Number.isInteger(id) ? this.deps.store.getDeployment(app.name, id) : undefined;
    if (!d)
      throw new ApiError(
        404,
        'deployment_not_found',
        `${app.name} has no deployment ${params.id}; list them with slipway deployments (GET /api/apps/${app.name}/deployments)`,
      );
    return d;
  }
}

/** `/api/apps/:app` → a pattern capturing each `:name`. */
function compile(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([a-z]+)/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { pattern, names };
}

function paramsOf(route: { names: string[] }, match: RegExpExecArray): Params {
  return Object.fromEntries(route.names.map((name, i) => [name, decodePathSegment(match[i + 1]!)]));
}

/** A path segment's %-escapes decoded; a malformed one is the client's mistake, not the server's. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    const shown = segment.length > 60 ? `${segment.slice(0, 57)}...` : segment;
    throw new ApiError(400, 'invalid_path', `the path segment "${shown}" has a malformed %-escape; write "%" itself as %25`);
  }
}

/** Every failure as the API reports it: known ones with their own status and code, others as a 500. */
function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof FormationError) return new ApiError(error.reason === 'no_release' ? 409 : 400, error.reason, error.message);
  if (error instanceof DeployFailure) return new ApiError(422, error.status, error.message);
  if (error instanceof RuntimeUnavailableError) return new ApiError(503, 'engine_unavailable', error.message);
  if (error instanceof DeployerClosedError) return new ApiError(503, 'unavailable', error.message);
  return new ApiError(500, 'internal', `the server failed: ${String(error)}; check its log`);
}

function operationFailure(error: unknown): OperationFailure {
  const { code, message } = asApiError(error);
  return { code, message, lines: error instanceof DeployFailure ? error.lines : [] };
}
