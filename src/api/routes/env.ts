import { envNameProblem, envTotalProblem, envValueProblem } from '../../deploy/env.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** The app's environment variables. PATCH takes {"KEY": "value", "OLD": null}. */
export function envRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/env', (_req, p) => ({ json: ctx.store.getEnv(ctx.app(p).name) }));
  ctx.add('PATCH', '/api/apps/:app/env', async (req, p) => {
    const app = ctx.app(p).name;
    const changes = envVariables(await readJsonObject(req), true);
    totalWithin({ ...ctx.store.getEnv(app), ...changes });
    return { json: ctx.store.patchEnv(app, changes) };
  });
}

/**
 * `{"KEY": "value"}` as variables: names Slipway allows, string values a process can hold — or null, to remove the
 * variable, where `removable` (the app's env; a run's variables are only added). 400 otherwise.
 */
export function envVariables(body: Record<string, unknown>, removable: true): Record<string, string | null>;
export function envVariables(body: Record<string, unknown>, removable: false): Record<string, string>;
export function envVariables(body: Record<string, unknown>, removable: boolean): Record<string, string | null> {
  const variables: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(body)) {
    const problem = envNameProblem(key);
    if (problem) throw new ApiError(400, 'invalid_env', problem);
    if (typeof value !== 'string' && !(removable && value === null)) {
      throw new ApiError(400, 'invalid_env', `the value of ${key} must be a string${removable ? ', or null to remove it' : ''}`);
    }
    const valueProblem = value === null ? undefined : envValueProblem(key, value);
    if (valueProblem) throw new ApiError(400, 'invalid_env', valueProblem);
    variables[key] = value;
  }
  return variables;
}

/** 400 when the variables a container would get (null: removed) are too large together. */
export function totalWithin(env: Record<string, string | null>): void {
  const kept = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== null));
  const problem = envTotalProblem(kept);
  if (problem) throw new ApiError(400, 'invalid_env', problem);
}
