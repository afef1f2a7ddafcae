import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppRecord, DeploymentRecord } from '../store/store.js';
import { notFoundApp, type ApiDeps, type Handler, type Params, type RouteContext } from './context.js';
import { ApiError } from './errors.js';
import { send, type Reply } from './reply.js';
import { appRoutes } from './routes/apps.js';
import { deploymentRoutes } from './routes/deployments.js';
import { domainRoutes } from './routes/domains.js';
import { envRoutes } from './routes/env.js';
import { psRoutes } from './routes/ps.js';
import { settingsRoutes } from './routes/settings.js';
import { tokenRoutes } from './routes/tokens.js';

interface RouteDef {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Each group of endpoints lives in its own module under routes/. */
const ROUTE_GROUPS: ((ctx: RouteContext) => void)[] = [
  appRoutes,
  tokenRoutes,
  deploymentRoutes,
  psRoutes,
  envRoutes,
  domainRoutes,
  settingsRoutes,
];

/** The JSON API under `/api`: authentication, routing to the groups' handlers, errors as JSON. */
export class Api {
  private readonly routes: RouteDef[] = [];

  constructor(private readonly deps: ApiDeps) {
    const ctx: RouteContext = {
      ...deps,
      add: (method, path, handler) => this.add(method, path, handler),
      app: (params) => this.app(params),
      deployment: (params) => this.deployment(params),
    };
    for (const group of ROUTE_GROUPS) group(ctx);
  }

  /** Handles `/api/...` requests; returns false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://slipway');
    if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) return false;
    this.dispatch(req, res, url.pathname)
      .then((reply) => send(res, reply))
      .catch((error: unknown) => {
        const apiError =
          error instanceof ApiError ? error : new ApiError(500, 'internal', `the server failed: ${String(error)}; check its log`);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // The unread rest of an oversized body must not be taken for the next request.
        if (apiError.status === 413) res.setHeader('connection', 'close');
        send(res, { status: apiError.status, json: { error: apiError.code, message: apiError.message } });
      });
    return true;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<Reply> {
    if (pathname === '/api/health' && req.method === 'GET') return { json: { status: 'ok' } };
    if (!this.deps.auth.fromRequest(req)) {
      throw new ApiError(401, 'unauthorized', 'a valid token is required: send "Authorization: Bearer <token>"');
    }
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const params = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
      return route.handler(req, params, res);
    }
    if (pathMatched) throw new ApiError(405, 'method_not_allowed', `${req.method} is not supported on ${pathname}`);
    throw new ApiError(404, 'not_found', `there is no API endpoint ${pathname}; see the README's API section`);
  }

  private add(method: string, path: string, handler: Handler): void {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-z]+)/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, pattern, names, handler });
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
    if (!d) throw new ApiError(404, 'deployment_not_found', `${app.name} has no deployment ${params.id}; list them with slipway deployments (GET /api/apps/${app.name}/deployments)`);
    return d;
  }
}
