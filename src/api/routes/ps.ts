import { LABEL } from '../../deploy/containers.js';
import type { RouteContext } from '../context.js';

/** The app's containers as the engine sees them. */
export function psRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/ps', async (_req, p) => {
    const app = ctx.app(p).name;
    const containers = await ctx.runtime.describeContainers({ [LABEL.app]: app });
    return {
      json: containers
        .map((c) => ({
          name: c.labels[LABEL.container] ?? c.name,
          container: c.name,
          type: c.labels[LABEL.type] ?? null,
          deployment: Number(c.labels[LABEL.deployment]) || null,
          port: Number(c.labels[LABEL.port]) || null,
          // The swarm node it runs on; null on one engine.
          node: c.node ?? null,
          state: c.state === 'running' && ctx.health.isUnhealthy(c.name) ? 'unhealthy' : c.state,
          restartCount: c.restartCount,
          startedAt: c.startedAt,
          exitCode: c.exitCode,
        }))
        .sort((a, b) => (a.deployment ?? 0) - (b.deployment ?? 0) || a.name.localeCompare(b.name, undefined, { numeric: true })),
    };
  });
}
