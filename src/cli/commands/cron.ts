import type { Command } from '../command.js';
import { ago, printJson, table } from '../output.js';

export interface CronJson {
  deployment: number | null;
  jobs: {
    schedule: string;
    command: string;
    nextRun: string | null;
    running: string | null;
    lastRun: { container: string | null; status: string; exitCode: number | null; startedAt: string; durationSeconds: number | null } | null;
    lastSkip: string | null;
    skips: number;
  }[];
}

/** `in 42s` / `in 3m` / `in 2h`: when the next run is due. */
function until(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
  if (seconds < 60) return `in ${seconds}s`;
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}m`;
  return `in ${Math.floor(seconds / 3600)}h`;
}

export const cronCommands: Command[] = [
  {
    name: 'cron',
    summary: "the jobs of the app's cron.json (current deployment): schedule, last run, next run (UTC)",
    usage: 'slipway cron [-a APP] [--json]',
    example: 'slipway cron -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const cron = await ctx.api().json<CronJson>('GET', `/api/apps/${app}/cron`);
      if (ctx.out.json) return printJson(ctx.out, cron);
      if (cron.jobs.length === 0) {
        return ctx.out.write(`${app} has no cron jobs: add a cron.json such as {"jobs": [{"command": "0 * * * * node hourly.js"}]} and push.\n`);
      }
      ctx.out.write(
        table(
          ['SCHEDULE', 'COMMAND', 'LAST RUN', 'EXIT', 'DURATION', 'RUNNING', 'NEXT RUN', 'SKIPPED'],
          cron.jobs.map((j) => [
            j.schedule,
            j.command,
            j.lastRun ? `${j.lastRun.container ?? ''} ${ago(j.lastRun.startedAt)}`.trim() : '-',
            j.lastRun?.status === 'timed-out' ? 'timed out' : (j.lastRun?.exitCode ?? null),
            j.lastRun?.durationSeconds === null || j.lastRun === null ? null : `${j.lastRun.durationSeconds}s`,
            j.running,
            until(j.nextRun),
            j.skips === 0 ? '0' : `${j.skips} (last ${ago(j.lastSkip)})`,
          ]),
        ),
      );
    },
  },
];
