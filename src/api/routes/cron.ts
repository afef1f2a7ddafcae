import type { RouteContext } from '../context.js';
import { iso } from '../reply.js';

/** The current deployment's cron jobs, with their last and next runs. */
export function cronRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/cron', (_req, p) => {
    const { deployment, jobs } = ctx.cron.status(ctx.app(p).name);
    return {
      json: {
        deployment,
        jobs: jobs.map((j) => ({
          schedule: j.schedule,
          command: j.command,
          nextRun: j.nextRun === null ? null : iso(j.nextRun),
          running: j.running,
          lastRun: j.lastRun && {
            container: j.lastRun.n === null ? null : `cron-${j.lastRun.n}`,
            status: j.lastRun.status,
            exitCode: j.lastRun.exitCode,
            startedAt: iso(j.lastRun.startedAt),
            finishedAt: j.lastRun.finishedAt === null ? null : iso(j.lastRun.finishedAt),
            durationSeconds: j.lastRun.finishedAt === null ? null : Math.round((j.lastRun.finishedAt - j.lastRun.startedAt) / 100) / 10,
          },
          lastSkip: j.lastSkip === null ? null : iso(j.lastSkip),
          skips: j.skips,
        })),
      },
    };
  });
}
