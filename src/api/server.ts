import type { IncomingMessage, ServerResponse } from 'node:http';
import { ADMIN, generateToken, hashToken, type TokenAuth } from '../auth/tokens.js';
import type { Deployer } from '../deploy/deployer.js';
import type { DeployLog } from '../deploy/log.js';
import { envNameProblem } from '../deploy/env.js';
import { LABEL } from '../deploy/pipeline.js';
import type { Runtime } from '../runtime/runtime.js';
import { appNameProblem, type Repos } from '../git/repos.js';
import type { AppRecord, AppSettings, DeploymentRecord, Store } from '../store/store.js';
import { readJsonObject } from './body.js';
import { ApiError } from './errors.js';

type Params = Record<string, string>;
type Handler = (req: IncomingMessage, params: Params) => Promise<Reply> | Reply;
type Reply = { status?: number; json: unknown } | { status?: number; text: string } | { stream: DeployLog };

interface RouteDef {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

const TOKEN_NAME = /^[A-Za-z0-9_-]{1,40}$/;

interface SettingSpec {
  field: keyof AppSettings;
  /** What a valid value is, for the error message. */
  expected: string;
  valid(value: number): boolean;
  /** API value → stored value, and back. */
  store(value: number): number;
  show(stored: number): number;
}

const seconds = (field: keyof AppSettings): SettingSpec => ({
  field,
  expected: "a number of seconds between 0 and 86400, or null for the server's default",
  valid: (v) => v > 0 && v <= 86_400,
  store: (v) => Math.round(v * 1000),
  show: (ms) => ms / 1000,
});

const SETTINGS: Record<string, SettingSpec> = {
  bootTimeout: seconds('bootTimeoutMs'),
  hookTimeout: seconds('hookTimeoutMs'),
  stopTimeout: seconds('stopTimeoutMs'),
  memory: {
    field: 'memoryMb',
    expected: 'a whole number of MiB from 16 to 1048576 for each container, or null for no limit',
    valid: (v) => Number.isInteger(v) && v >= 16 && v <= 1_048_576,
    store: (v) => v,
    show: (v) => v,
  },
  cpus: {
    field: 'cpus',
    expected: 'a number of cores from 0.01 to 256 for each container, or null for no limit',
    valid: (v) => v >= 0.01 && v <= 256,
    store: (v) => v,
    show: (v) => v,
  },
};

/** The JSON API under `/api`. Reads and writes go through the store; nothing here runs containers. */
export class Api {
  private readonly routes: RouteDef[] = [];

  constructor(
    private readonly store: Store,
    private readonly auth: TokenAuth,
    private readonly deployer: Deployer,
    private readonly repos: Repos,
    private readonly runtime: Runtime,
    private readonly appUrl: (app: string) => string,
    private readonly domain: string,
  ) {
    this.add('GET', '/api/apps', () => ({ json: this.store.listApps().map((a) => this.appJson(a)) }));
    this.add('POST', '/api/apps', async (req) => {
      const { name } = await readJsonObject(req);
      if (typeof name !== 'string') throw new ApiError(400, 'invalid_app_name', 'send the new app\'s name as {"name": "my-app"}');
      const problem = appNameProblem(name);
      if (problem) throw new ApiError(400, 'invalid_app_name', problem);
      if (this.store.getApp(name)) throw new ApiError(409, 'app_exists', `an app named ${name} already exists; choose another name`);
      await this.repos.ensure(name);
      return { status: 201, json: this.appJson(this.store.ensureApp(name)) };
    });
    this.add('GET', '/api/apps/:app', (_req, p) => ({ json: this.appJson(this.app(p)) }));
    this.add('DELETE', '/api/apps/:app', async (req, p) => {
      const app = this.app(p).name;
      const confirm = new URL(req.url ?? '/', 'http://slipway').searchParams.get('confirm');
      if (confirm !== app) {
        throw new ApiError(400, 'confirmation_required', `destroying ${app} removes its containers, images, repository and records; confirm with ?confirm=${app}`);
      }
      const removed = await this.deployer.exclusive(app, () => this.destroy(app));
      return { json: { destroyed: app, ...removed } };
    });
    this.add('GET', '/api/tokens', (req) => {
      this.adminOnly(req);
      return { json: this.store.listTokens().map((t) => ({ name: t.name, createdAt: iso(t.createdAt) })) };
    });
    this.add('POST', '/api/tokens', async (req) => {
      this.adminOnly(req);
      const { name } = await readJsonObject(req);
      if (typeof name !== 'string' || !TOKEN_NAME.test(name) || name === ADMIN) {
        throw new ApiError(400, 'invalid_token_name', 'name the token with 1 to 40 letters, digits, "-" or "_" (not "admin"), e.g. {"name": "ci"}');
      }
      const token = generateToken();
      if (!this.store.addToken(name, hashToken(token).toString('hex'))) {
        throw new ApiError(409, 'token_exists', `a token named ${name} exists; revoke it first or choose another name`);
      }
      // The only time the token is shown: only its hash is kept.
      return { status: 201, json: { name, token } };
    });
    this.add('DELETE', '/api/tokens/:name', (req, p) => {
      this.adminOnly(req);
      if (!this.store.removeToken(p.name ?? '')) {
        throw new ApiError(404, 'token_not_found', `there is no token named "${p.name}"; list them with GET /api/tokens`);
      }
      return { json: { revoked: p.name } };
    });
    this.add('GET', '/api/apps/:app/deployments', (_req, p) => ({
      json: this.store.listDeployments(this.app(p).name).map(deploymentJson),
    }));
    this.add('GET', '/api/apps/:app/deployments/:id', (_req, p) => {
      const d = this.deployment(p);
      const phases = this.store.listPhases(d.app, d.id).map((ph) => ({
        phase: ph.phase,
        startedAt: iso(ph.startedAt),
        finishedAt: ph.finishedAt === null ? null : iso(ph.finishedAt),
        durationMs: ph.finishedAt === null ? null : ph.finishedAt - ph.startedAt,
      }));
      return { json: { ...deploymentJson(d), phases } };
    });
    this.add('GET', '/api/apps/:app/deployments/:id/output', (req, p) => {
      const d = this.deployment(p);
      const live = new URL(req.url ?? '/', 'http://slipway').searchParams.has('follow') ? this.deployer.liveLog(d.app, d.id) : undefined;
      // Following a deployment that still runs: its lines as they are written, until it ends.
      if (live && !live.isEnded) return { stream: live };
      const lines = this.store.getOutput(d.app, d.id);
      return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '' };
    });
    this.add('GET', '/api/apps/:app/ps', async (_req, p) => {
      const app = this.app(p).name;
      const containers = await this.runtime.describeContainers({ [LABEL.app]: app });
      return {
        json: containers
          .map((c) => ({
            name: c.labels[LABEL.container] ?? c.name,
            container: c.name,
            type: c.labels[LABEL.type] ?? null,
            deployment: Number(c.labels[LABEL.deployment]) || null,
            port: Number(c.labels[LABEL.port]) || null,
            state: c.state,
            restartCount: c.restartCount,
            startedAt: c.startedAt,
            exitCode: c.exitCode,
          }))
          .sort((a, b) => (a.deployment ?? 0) - (b.deployment ?? 0) || a.name.localeCompare(b.name)),
      };
    });
    this.add('GET', '/api/apps/:app/env', (_req, p) => ({ json: this.store.getEnv(this.app(p).name) }));
    this.add('PATCH', '/api/apps/:app/env', async (req, p) => {
      const app = this.app(p).name;
      const changes = envChanges(await readJsonObject(req));
      return { json: this.store.patchEnv(app, changes) };
    });
    this.add('GET', '/api/apps/:app/domains', (_req, p) => ({ json: this.domainsJson(this.app(p).name) }));
    this.add('POST', '/api/apps/:app/domains', async (req, p) => {
      const app = this.app(p).name;
      const { domain } = await readJsonObject(req);
      const name = typeof domain === 'string' ? domain.trim().toLowerCase().replace(/\.$/, '') : '';
      const problem = domainProblem(name, this.domain);
      if (problem) throw new ApiError(400, 'invalid_domain', problem);
      if (!this.store.addDomain(app, name)) {
        const owner = this.store.appForDomain(name);
        throw new ApiError(409, 'domain_taken', `${name} already routes to ${owner === app ? 'this app' : `the app ${owner}`}; remove it there first`);
      }
      return { status: 201, json: this.domainsJson(app) };
    });
    this.add('DELETE', '/api/apps/:app/domains/:domain', (_req, p) => {
      const app = this.app(p).name;
      const name = (p.domain ?? '').toLowerCase();
      if (!this.store.removeDomain(app, name)) {
        throw new ApiError(404, 'domain_not_found', `${app} has no domain ${name}; list them with GET /api/apps/${app}/domains`);
      }
      return { json: this.domainsJson(app) };
    });
    this.add('GET', '/api/apps/:app/settings', (_req, p) => ({ json: settingsJson(this.app(p)) }));
    this.add('PATCH', '/api/apps/:app/settings', async (req, p) => {
      const app = this.app(p).name;
      const changes = settingChanges(await readJsonObject(req));
      return { json: settingsJson(this.store.updateSettings(app, changes)) };
    });
  }

  /** Handles `/api/...` requests; returns false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://slipway');
    if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) return false;
    this.dispatch(req, url.pathname)
      .then((reply) => send(res, reply))
      .catch((error: unknown) => {
        const apiError =
          error instanceof ApiError ? error : new ApiError(500, 'internal', `the server failed: ${String(error)}; check its log`);
        // The unread rest of an oversized body must not be taken for the next request.
        if (apiError.status === 413) res.setHeader('connection', 'close');
        send(res, { status: apiError.status, json: { error: apiError.code, message: apiError.message } });
      });
    return true;
  }

  private async dispatch(req: IncomingMessage, pathname: string): Promise<Reply> {
    if (pathname === '/api/health' && req.method === 'GET') return { json: { status: 'ok' } };
    if (!this.auth.fromRequest(req)) {
      throw new ApiError(401, 'unauthorized', 'a valid token is required: send "Authorization: Bearer <token>"');
    }
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const params = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
      return route.handler(req, params);
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

  /** Stops and removes everything the app has: containers, images, repository, records. */
  private async destroy(app: string): Promise<{ containers: number; images: number }> {
    const containers = await this.runtime.listContainers({ [LABEL.app]: app });
    await Promise.all(containers.map((c) => this.runtime.stopAndRemove(c, 10_000)));
    const images = this.store
      .listDeployments(app, 100_000)
      .map((d) => d.image)
      .filter((image): image is string => image !== null);
    for (const image of images) await this.runtime.removeImage(image);
    await this.repos.remove(app);
    this.store.deleteApp(app);
    return { containers: containers.length, images: images.length };
  }

  private adminOnly(req: IncomingMessage): void {
    if (this.auth.fromRequest(req)?.name !== ADMIN) {
      throw new ApiError(403, 'forbidden', 'only the admin token can manage tokens');
    }
  }

  private app(params: Params): AppRecord {
    const app = this.store.getApp(params.app ?? '');
    if (!app) throw new ApiError(404, 'app_not_found', `there is no app named "${params.app}"; push to create it`);
    return app;
  }

  private deployment(params: Params): DeploymentRecord {
    const app = this.app(params);
    const id = Number(params.id);
    const d = Number.isInteger(id) ? this.store.getDeployment(app.name, id) : undefined;
    if (!d) throw new ApiError(404, 'deployment_not_found', `${app.name} has no deployment ${params.id}; list them with GET /api/apps/${app.name}/deployments`);
    return d;
  }

  private domainsJson(app: string): object {
    return this.store.listDomains(app).map((d) => ({ domain: d.domain, createdAt: iso(d.createdAt) }));
  }

  private appJson(app: AppRecord): object {
    return {
      name: app.name,
      url: this.appUrl(app.name),
      createdAt: iso(app.createdAt),
      currentDeployment: app.currentDeployment,
      deploying: this.store.listDeployments(app.name, 1).some((d) => this.deployer.liveLog(app.name, d.id) !== undefined),
    };
  }
}

function envChanges(body: Record<string, unknown>): Record<string, string | null> {
  const changes: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(body)) {
    const problem = envNameProblem(key);
    if (problem) throw new ApiError(400, 'invalid_env', problem);
    if (value !== null && typeof value !== 'string') {
      throw new ApiError(400, 'invalid_env', `the value of ${key} must be a string, or null to remove it`);
    }
    changes[key] = value;
  }
  return changes;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

function domainProblem(name: string, serverDomain: string): string | undefined {
  if (!HOSTNAME.test(name)) {
    return `"${name.slice(0, 80)}" is not a valid domain; send a host name such as {"domain": "www.example.com"}`;
  }
  if (name === serverDomain || name.endsWith(`.${serverDomain}`)) {
    return `${name} is under the server's own domain ${serverDomain}, where apps are reached by name; use another domain`;
  }
  return undefined;
}

function settingChanges(body: Record<string, unknown>): Partial<AppSettings> {
  const changes: Partial<AppSettings> = {};
  for (const [key, value] of Object.entries(body)) {
    const spec = SETTINGS[key];
    if (!spec) {
      throw new ApiError(400, 'invalid_setting', `unknown setting "${key}"; the settings are ${Object.keys(SETTINGS).join(', ')}`);
    }
    if (value !== null && (typeof value !== 'number' || !spec.valid(value))) {
      throw new ApiError(400, 'invalid_setting', `${key} must be ${spec.expected}`);
    }
    changes[spec.field] = value === null ? null : spec.store(value);
  }
  return changes;
}

function settingsJson(app: AppRecord): object {
  return Object.fromEntries(
    Object.entries(SETTINGS).map(([key, spec]) => {
      const stored = app.settings[spec.field];
      return [key, stored === null ? null : spec.show(stored)];
    }),
  );
}

function deploymentJson(d: DeploymentRecord): object {
  return {
    id: d.id,
    status: d.status,
    reason: d.reason,
    commit: d.commit,
    ref: d.ref,
    image: d.image,
    pushedBy: d.pushedBy,
    createdAt: iso(d.createdAt),
    finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function send(res: ServerResponse, reply: Reply): void {
  if ('stream' in reply) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    const stop = reply.stream.follow((line) => res.write(`${line}\n`));
    const stopEnd = reply.stream.onEnd(() => {
      stop();
      res.end();
    });
    res.on('close', () => {
      stop();
      stopEnd();
    });
    return;
  }
  const status = reply.status ?? 200;
  if ('text' in reply) {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(reply.text) });
    res.end(reply.text);
    return;
  }
  const body = `${JSON.stringify(reply.json)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
