import { rm } from 'node:fs/promises';
import { LABEL } from '../../deploy/containers.js';
import { appNameProblem } from '../../git/repos.js';
import type { AppRecord } from '../../store/store.js';
import { readJsonObject } from '../body.js';
import { query, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

/** Apps: list, create, show, destroy. */
export function appRoutes(ctx: RouteContext): void {
  const appJson = (app: AppRecord): object => ({
    name: app.name,
    url: ctx.appUrl(app.name),
    createdAt: iso(app.createdAt),
    currentDeployment: app.currentDeployment,
    maintenance: app.maintenance,
    deploying: ctx.store.listDeployments(app.name, 1).some((d) => ctx.deployer.liveLog(app.name, d.id) !== undefined),
  });

  /** Stops and removes everything the app has: containers, images, volumes, repository, records. */
  const destroy = async (app: string): Promise<{ containers: number; images: number }> => {
    const containers = await ctx.runtime.listContainers({ [LABEL.app]: app });
    await Promise.all(containers.map((c) => ctx.runtime.stopAndRemove(c, 10_000)));
    const images = new Set(
      ctx.store
        .listDeployments(app, 100_000)
        .map((d) => d.image)
        .filter((image): image is string => image !== null),
    );
    for (const image of images) await ctx.runtime.removeImage(image);
    await rm(ctx.containers.appVolumesDir(app), { recursive: true, force: true });
    await ctx.repos.remove(app);
    ctx.store.deleteApp(app);
    return { containers: containers.length, images: images.size };
  };

  ctx.add('GET', '/api/apps', () => ({ json: ctx.store.listApps().map(appJson) }));
  ctx.add('POST', '/api/apps', async (req) => {
    const { name } = await readJsonObject(req);
    if (typeof name !== 'string') throw new ApiError(400, 'invalid_app_name', 'send the new app\'s name as {"name": "my-app"}');
    const problem = appNameProblem(name);
    if (problem) throw new ApiError(400, 'invalid_app_name', problem);
    if (ctx.store.getApp(name)) throw new ApiError(409, 'app_exists', `an app named ${name} already exists; choose another name`);
    await ctx.repos.ensure(name);
    return { status: 201, json: appJson(ctx.store.ensureApp(name)) };
  });
  ctx.add('GET', '/api/apps/:app', (_req, p) => ({ json: appJson(ctx.app(p)) }));
  ctx.add('DELETE', '/api/apps/:app', async (req, p) => {
    const app = ctx.app(p).name;
    if (query(req).get('confirm') !== app) {
      throw new ApiError(
        400,
        'confirmation_required',
        `destroying ${app} removes its containers, images, storage, repository and records; confirm with ?confirm=${app}`,
      );
    }
    const removed = await ctx.deployer.exclusive(app, () => destroy(app));
    return { json: { destroyed: app, ...removed } };
  });
}
