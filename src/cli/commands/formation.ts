import type { Command, CommandContext } from '../command.js';
import { CliError } from '../errors.js';
import { printJson } from '../output.js';
import { withProgress } from '../progress.js';

interface ScaleResult {
  formation: Record<string, number>;
  started: string[];
  stopped: string[];
}

function parseCounts(args: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const arg of args) {
    const match = /^([A-Za-z][A-Za-z0-9_-]*)=(\d+)$/.exec(arg);
    if (!match) throw new CliError(`"${arg}" is not TYPE=COUNT; write it as e.g. web=2.`, 2);
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

/** Restarts the app's containers (of one type, or all), rolling; shared by restart and env:set --restart. */
export async function restartApp(ctx: CommandContext, app: string, type: string | undefined): Promise<string[]> {
  const title = `Restarting ${type ? `the ${type} containers of ` : ''}${app}`;
  const result = await withProgress(title, (onLine) => ctx.api().operation<{ restarted: string[] }>(`/api/apps/${app}/restart`, type ? { type } : {}, onLine));
  return result.restarted;
}

export const formationCommands: Command[] = [
  {
    name: 'scale',
    aliases: ['ps:scale'],
    summary: 'set how many containers of each process type run (boot-checked, routed, no downtime); without TYPE=COUNT, show them',
    usage: 'slipway scale [TYPE=COUNT...] [-a APP] [--json]',
    example: 'slipway scale web=2 worker=0 -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      if (ctx.args.length === 0) {
        // As heroku ps:scale with no arguments: the current formation.
        const formation = await ctx.api().json<Record<string, number>>('GET', `/api/apps/${encodeURIComponent(app)}/formation`);
        if (ctx.out.json) return printJson(ctx.out, formation);
        const entries = Object.entries(formation);
        ctx.out.write(entries.length === 0 ? `${app} runs no processes.\n` : `${entries.map(([type, count]) => `${type}=${count}`).join(' ')}\n`);
        return;
      }
      const counts = parseCounts(ctx.args);
      const result = await withProgress(`Scaling ${app}`, (onLine) => ctx.api().operation<ScaleResult>(`/api/apps/${app}/scale`, counts, onLine));
      if (ctx.out.json) return printJson(ctx.out, result);
      const formation = Object.entries(result.formation)
        .map(([type, count]) => `${type}=${count}`)
        .join(' ');
      ctx.out.write(`Scaled ${app} to ${formation}.\n`);
    },
  },
  {
    name: 'restart',
    aliases: ['ps:restart'],
    summary: "restart the app's containers, or those of one type (rolling for web: no downtime)",
    usage: 'slipway restart [TYPE] [-a APP] [--json]',
    example: 'slipway restart web -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const restarted = await restartApp(ctx, app, ctx.args[0]);
      if (ctx.out.json) return printJson(ctx.out, { restarted });
      ctx.out.write(restarted.length === 0 ? `${app} has no containers to restart.\n` : `Restarted ${restarted.join(', ')}.\n`);
    },
  },
  {
    name: 'rollback',
    aliases: ['releases:rollback'],
    summary: 'deploy the image of an earlier deployment again (default: the previous one), postdeploy hook included',
    usage: 'slipway rollback [ID] [-a APP] [--json]',
    example: 'slipway rollback 7 -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const id = ctx.args[0] === undefined ? undefined : Number(ctx.args[0]);
      if (id !== undefined && (!Number.isInteger(id) || id < 1)) {
        throw new CliError('Give the deployment number to roll back to, as listed by slipway deployments: e.g. slipway rollback 7.', 2);
      }
      // The deployment's own output is the progress, as a push shows it.
      const result = await withProgress(`Rolling ${app} back`, (onLine) =>
        ctx
          .api()
          .operation<{ id: number; rollbackOf: number; commit: string }>(`/api/apps/${app}/rollback`, id === undefined ? {} : { deployment: id }, onLine),
      );
      if (ctx.out.json) return printJson(ctx.out, result);
      ctx.out.write(`Rolled ${app} back to the image of deployment ${result.rollbackOf} (commit ${result.commit.slice(0, 7)}): deployment ${result.id}.\n`);
    },
  },
];
