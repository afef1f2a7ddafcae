import { DeployRefused } from '../../deploy/deployer.js';
import type { DeploymentRecord } from '../../store/store.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { deploymentJson } from './deployments.js';

/**
 * Changes to what runs, without a push: scale and restart (in place), rollback (a deployment of
 * an earlier image). Each answers as an operation (NDJSON progress, then the result), and runs
 * in the app's queue, after any deployment in progress.
 */
export function releaseRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/formation', async (_req, p) => ({
    json: Object.fromEntries(await ctx.formation.current(ctx.app(p).name)),
  }));

  ctx.add('POST', '/api/apps/:app/scale', async (req, p) => {
    const app = ctx.app(p).name;
    const counts = scaleCounts(await readJsonObject(req));
    // Checked before answering, so that a typo gets a 400 rather than a failed operation.
    ctx.formation.validate(await ctx.formation.release(app), counts);
    return { operation: (log) => ctx.deployer.exclusive(app, 'a scale', () => ctx.formation.scale(app, counts, log), log) };
  });

  ctx.add('POST', '/api/apps/:app/restart', async (req, p) => {
    const app = ctx.app(p).name;
    const { type } = await readJsonObject(req);
    if (type !== undefined && typeof type !== 'string') {
      throw new ApiError(400, 'invalid_type', 'send the process type to restart as {"type": "web"}, or {} for all');
    }
    const release = await ctx.formation.release(app);
    if (type !== undefined) ctx.formation.checkType(release, type);
    return { operation: (log) => ctx.deployer.exclusive(app, 'a restart', () => ctx.formation.restart(app, type, log), log) };
  });

  ctx.add('POST', '/api/apps/:app/rollback', async (req, p) => {
    const app = ctx.app(p).name;
    const { deployment } = await readJsonObject(req);
    if (deployment !== undefined && (typeof deployment !== 'number' || !Number.isInteger(deployment))) {
      throw new ApiError(400, 'invalid_deployment', 'send the deployment to roll back to as {"deployment": 7}, or {} for the previous one');
    }
    // Checked now, so that a wrong request gets its answer at once; picked again when its turn
    // comes, since a deployment queued before it may change what "the previous one" is.
    const asked = await rollbackSource(ctx, app, deployment);
    const pushedBy = ctx.identity(req).name;
    return {
      operation: async (log) => {
        const started = ctx.deployer.deploy(
          {
            app,
            gitDir: ctx.repos.pathFor(app),
            ref: asked.ref,
            commit: asked.commit,
            pushedBy,
            rollbackOf: asked,
            admit: async () => {
              try {
                return { rollbackOf: await rollbackSource(ctx, app, deployment) };
              } catch (error) {
                if (error instanceof ApiError) throw new DeployRefused(`The rollback was not run: ${error.message}`);
                throw error;
              }
            },
          },
          (line) => log.write(line),
        );
        const status = await started.done;
        const result = deploymentJson(ctx.store.getDeployment(app, started.deployment.id)!);
        if (status !== 'success') {
          throw new ApiError(
            422,
            status,
            `rollback deployment ${started.deployment.id} ended ${status}; deployment ${ctx.store.getApp(app)?.currentDeployment ?? '-'} keeps serving`,
          );
        }
        return result;
      },
    };
  });
}

/** `{"web": 2, "worker": 0}` → a map, or a 400 that shows the expected shape. */
function scaleCounts(body: Record<string, unknown>): Map<string, number> {
  const entries = Object.entries(body);
  if (entries.length === 0) throw new ApiError(400, 'invalid_scale', 'send the counts to set, e.g. {"web": 2, "worker": 0}');
  return new Map(
    entries.map(([type, count]) => {
      if (typeof count !== 'number') throw new ApiError(400, 'invalid_count', `${type} must be a number of containers, e.g. {"${type}": 2}`);
      return [type, count];
    }),
  );
}

/** The rollback's source with its Procfile (deployments from before Slipway kept them get theirs from the repository). */
async function rollbackSource(ctx: RouteContext, app: string, id: number | undefined): Promise<DeploymentRecord> {
  const target = rollbackTarget(ctx, app, id);
  return { ...target, procfile: await ctx.formation.procfileOf(target) };
}

/** The deployment asked for, or the last successful one before the current; its image must still be kept. */
function rollbackTarget(ctx: RouteContext, app: string, id: number | undefined): DeploymentRecord {
  const current = ctx.store.getApp(app)?.currentDeployment ?? null;
  if (current === null) throw new ApiError(409, 'no_release', `${app} has never been deployed, so there is nothing to roll back to; git push deploy main`);
  const history = ctx.store.listDeployments(app, 100_000);
  const target = id === undefined ? history.find((d) => d.id < current && d.status === 'success') : history.find((d) => d.id === id);
  if (!target) {
    throw id === undefined
      ? new ApiError(409, 'no_previous_release', `${app} has no successful deployment before ${current} to roll back to`)
      : new ApiError(404, 'deployment_not_found', `${app} has no deployment ${id}; list them with slipway deployments`);
  }
  if (target.id === current) throw new ApiError(409, 'already_current', `deployment ${id} is the one serving ${app} already; roll back to an earlier one`);
  if (target.status !== 'success') {
    throw new ApiError(
      409,
      'not_rollbackable',
      `deployment ${target.id} ended ${target.status} and never served; roll back to a successful one (slipway deployments)`,
    );
  }
  if (target.image === null) {
    throw new ApiError(
      409,
      'image_gone',
      `the image of deployment ${target.id} is no longer kept (only the last 5 are); push its commit ${target.commit.slice(0, 7)} again instead`,
    );
  }
  return target;
}
