import { LABEL } from '../../deploy/containers.js';
import { appNameProblem } from '../../git/repos.js';
import type { AppRecord, DeploymentRecord } from '../../store/store.js';
import { readJsonObject } from '../body.js';
import { query, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

/** Apps: list, create, show, destroy. */
export function appRoutes(ctx: RouteContext): void {
  /** `known`: the latest deployment and formation of every app, read at once for the list. */
  const appJson = (
    app: AppRecord,
    running?: ReadonlyMap<string, number>,
    known?: { latest: Map<string, DeploymentRecord>; formations: Map<string, Map<string, number>> },
  ): object => {
    const latest = known ? known.latest.get(app.name) : ctx.store.listDeployments(app.name, 1)[0];
    const formation = known ? (known.formations.get(app.name) ?? new Map<string, number>()) : ctx.store.getFormation(app.name);
    return {
      name: app.name,
      url: ctx.appUrl(app.name),
      createdAt: iso(app.createdAt),
      currentDeployment: app.currentDeployment,
      maintenance: app.maintenance,
      deploying: latest !== undefined && ctx.deployer.liveLog(app.name, latest.id) !== undefined,
      latestDeployment: latest
        ? { id: latest.id, status: latest.status, createdAt: iso(latest.createdAt), finishedAt: latest.finishedAt === null ? null : iso(latest.finishedAt) }
        : null,
      // For the dashboard: process containers running, out of the formation's total.
      containers: {
        running: running ? (running.get(app.name) ?? 0) : null,
        expected: [...formation.values()].reduce((sum, n) => sum + n, 0),
      },
      formation: Object.fromEntries(formation),
    };
  };
  /** Running process containers per app, in one engine call; undefined while the engine is down. */
  const runningByApp = async (): Promise<Map<string, number> | undefined> => {
    try {
      const counts = new Map<string, number>();
      for (const c of await ctx.runtime.listContainers({ [LABEL.role]: 'process' })) {
        const app = c.labels[LABEL.app];
        if (app !== undefined && c.state === 'running') counts.set(app, (counts.get(app) ?? 0) + 1);
      }
      return counts;
    } catch {
      return undefined;
    }
  };

  ctx.add('GET', '/api/apps', async () => {
    const running = await runningByApp();
    // Three queries whatever the number of apps, not two more per app.
    const known = { latest: ctx.store.latestDeployments(), formations: ctx.store.listFormations() };
    return { json: ctx.store.listApps().map((app) => appJson(app, running, known)) };
  });
  ctx.add('POST', '/api/apps', async (req) => {
    const { name } = await readJsonObject(req);
    if (typeof name !== 'string') throw new ApiError(400, 'invalid_app_name', 'send the new app\'s name as {"name": "my-app"}');
    const problem = appNameProblem(name);
    if (problem) throw new ApiError(400, 'invalid_app_name', problem);
    if (ctx.store.getApp(name)) throw new ApiError(409, 'app_exists', `an app named ${name} already exists; choose another name`);
    await ctx.repos.ensure(name);
    return { status: 201, json: appJson(ctx.store.ensureApp(name), new Map()) };
  });
  ctx.add('GET', '/api/apps/:app', async (_req, p) => {
    const app = ctx.app(p);
    return { json: appJson(app, await runningByApp()) };
  });
  ctx.add('DELETE', '/api/apps/:app', async (req, p) => {
    const app = ctx.app(p).name;
    if (query(req).get('confirm') !== app) {
      throw new ApiError(
        400,
        'confirmation_required',
        `destroying ${app} removes its containers, images, storage, repository and records; confirm with ?confirm=${app}`,
      );
    }
    const removed = await ctx.destroyer.destroy(app);
    return { json: { destroyed: app, ...removed } };
  });
}
