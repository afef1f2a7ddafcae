import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Custom domains the router sends to an app, besides <app>.<domain>. */
export function domainRoutes(ctx: RouteContext): void {
  const domainsJson = (app: string): object => ctx.store.listDomains(app).map((d) => ({ domain: d.domain, createdAt: iso(d.createdAt) }));

  ctx.add('GET', '/api/apps/:app/domains', (_req, p) => ({ json: domainsJson(ctx.app(p).name) }));
  ctx.add('POST', '/api/apps/:app/domains', async (req, p) => {
    const app = ctx.app(p).name;
    const { domain } = await readJsonObject(req);
    const name = typeof domain === 'string' ? domain.trim().toLowerCase().replace(/\.$/, '') : '';
    const problem = domainProblem(name, ctx.domain);
    if (problem) throw new ApiError(400, 'invalid_domain', problem);
    if (!ctx.store.addDomain(app, name)) {
      const owner = ctx.store.appForDomain(name);
      throw new ApiError(409, 'domain_taken', `${name} already routes to ${owner === app ? 'this app' : `the app ${owner}`}; remove it there first`);
    }
    await ctx.routersUpdated();
    return { status: 201, json: domainsJson(app) };
  });
  ctx.add('DELETE', '/api/apps/:app/domains/:domain', async (_req, p) => {
    const app = ctx.app(p).name;
    const name = (p.domain ?? '').toLowerCase();
    if (!ctx.store.removeDomain(app, name)) {
      throw new ApiError(404, 'domain_not_found', `${app} has no domain ${name}; list them with GET /api/apps/${app}/domains`);
    }
    await ctx.routersUpdated();
    return { json: domainsJson(app) };
  });
}

function domainProblem(name: string, serverDomain: string): string | undefined {
  if (!HOSTNAME.test(name)) {
    return `"${name.slice(0, 80)}" is not a valid domain; send a host name such as {"domain": "www.example.com"}`;
  }
  if (name === serverDomain || name.endsWith(`.${serverDomain}`)) {
    return `${name} is under the server's own domain ${serverDomain}, where apps are reached by name; use another domain`;
  }
  return undefined;
}
