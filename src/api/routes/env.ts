import { envNameProblem } from '../../deploy/env.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** The app's environment variables. PATCH takes {"KEY": "value", "OLD": null}. */
export function envRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/env', (_req, p) => ({ json: ctx.store.getEnv(ctx.app(p).name) }));
  ctx.add('PATCH', '/api/apps/:app/env', async (req, p) => {
    const app = ctx.app(p).name;
    const changes = envChanges(await readJsonObject(req));
    return { json: ctx.store.patchEnv(app, changes) };
  });
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
