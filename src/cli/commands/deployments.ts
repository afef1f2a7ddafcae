import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { ago, duration, printJson, printList, statusColor, table } from '../output.js';

interface DeploymentJson {
  id: number;
  status: string;
  reason: string | null;
  commit: string;
  rollbackOf: number | null;
  pushedBy: string | null;
  createdAt: string;
  finishedAt: string | null;
}

interface DeploymentDetail extends DeploymentJson {
  ref: string;
  image: string | null;
  /** `failed`: the phase a failed deployment stopped in. */
  phases: { phase: string; failed: boolean; startedAt: string; finishedAt: string | null; durationMs: number | null }[];
}

function deploymentId(args: string[]): number {
  const id = Number(args[0]);
  if (!Number.isInteger(id) || id < 1) throw new CliError('Give the deployment number, as listed by slipway deployments: e.g. slipway deployments:info 7.', 2);
  return id;
}

export const deploymentCommands: Command[] = [
  {
    name: 'deployments',
    aliases: ['releases'],
    summary: "the app's deployments, newest first",
    usage: 'slipway deployments [-a APP] [--json]',
    example: 'slipway deployments -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      const list = await ctx.api().json<DeploymentJson[]>('GET', `/api/apps/${name}/deployments`);
      printList(ctx.out, list, `${name} has no deployments yet: git push deploy main\n`, ['ID', 'STATUS', 'COMMIT', 'BY', 'STARTED', 'DURATION'], (d) => [
        d.id,
        statusColor(ctx.out, d.status),
        d.rollbackOf === null ? d.commit.slice(0, 7) : `${d.commit.slice(0, 7)} rollback of ${d.rollbackOf}`,
        d.pushedBy,
        ago(d.createdAt),
        d.finishedAt ? duration(Date.parse(d.finishedAt) - Date.parse(d.createdAt)) : 'running',
      ]);
    },
  },
  {
    name: 'deployments:info',
    aliases: ['releases:info'],
    summary: 'one deployment and its phase timeline',
    usage: 'slipway deployments:info [ID] [-a APP] [--json]',
    example: 'slipway deployments:info 7 -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      // Without an id: the latest, as heroku releases:info does.
      let id: number;
      if (ctx.args.length > 0) id = deploymentId(ctx.args);
      else {
        const [latest] = await ctx.api().json<DeploymentJson[]>('GET', `/api/apps/${name}/deployments`);
        if (!latest) throw new CliError(`${name} has no deployments yet: git push deploy main.`, 1);
        id = latest.id;
      }
      const d = await ctx.api().json<DeploymentDetail>('GET', `/api/apps/${name}/deployments/${id}`);
      if (ctx.out.json) return printJson(ctx.out, d);
      ctx.out.write(
        [
          `Deployment ${d.id} of ${name}: ${statusColor(ctx.out, d.status)}`,
          `Commit      ${d.commit} (${d.ref.replace('refs/heads/', '')})`,
          `${(d.rollbackOf === null ? 'Pushed by' : 'Rollback by').padEnd(12)}${d.pushedBy ?? '-'}, ${ago(d.createdAt)}`,
          ...(d.rollbackOf === null ? [] : [`Image       of deployment ${d.rollbackOf} (not rebuilt)`]),
          ...(d.reason ? [`Reason      ${d.reason}`] : []),
          '',
          table(
            ['PHASE', 'DURATION'],
            d.phases.map((p) => [
              p.phase,
              p.failed
                ? `failed after ${duration(Math.max(0, Date.parse(d.finishedAt ?? p.startedAt) - Date.parse(p.startedAt)))}`
                : p.durationMs === null
                  ? 'running'
                  : duration(p.durationMs),
            ]),
          ),
        ].join('\n'),
      );
    },
  },
  {
    name: 'deployments:logs',
    summary: "a deployment's output, exactly as the git client saw it (--follow: live, until it ends)",
    usage: 'slipway deployments:logs ID [-a APP] [--follow]',
    example: 'slipway deployments:logs 7 -a my-app --follow',
    options: { follow: { type: 'boolean', short: 'f' } },
    async run(ctx) {
      const name = await ctx.app();
      const id = deploymentId(ctx.args);
      const pathname = `/api/apps/${name}/deployments/${id}/output`;
      if (ctx.options.follow) await ctx.api().stream(`${pathname}?follow=1`, ctx.out.write);
      else ctx.out.write(await ctx.api().text(pathname));
    },
  },
];
