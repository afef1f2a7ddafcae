import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { printJson, table } from '../output.js';

const HIDDEN = '******** (slipway env --reveal)';

function parseAssignments(args: string[]): Record<string, string> {
  if (args.length === 0) throw new CliError('Give at least one variable: slipway env:set KEY=VALUE.', 2);
  const changes: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new CliError(`"${arg}" is not KEY=VALUE; write it as e.g. DATABASE_URL=postgres://…`, 2);
    changes[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return changes;
}

export const envCommands: Command[] = [
  {
    name: 'env',
    summary: "the app's environment variables (values hidden unless --reveal)",
    usage: 'slipway env [-a APP] [--reveal] [--json]',
    example: 'slipway env -a my-app --reveal',
    options: { reveal: { type: 'boolean' } },
    async run(ctx) {
      const name = await ctx.app();
      const env = await ctx.api().json<Record<string, string>>('GET', `/api/apps/${name}/env`);
      const shown = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, ctx.options.reveal ? v : HIDDEN]));
      if (ctx.out.json) return printJson(ctx.out, shown);
      if (Object.keys(shown).length === 0) return ctx.out.write(`${name} has no variables: slipway env:set KEY=VALUE -a ${name}\n`);
      ctx.out.write(table(['NAME', 'VALUE'], Object.entries(shown)));
    },
  },
  {
    name: 'env:set',
    summary: 'set variables; they apply at the next deploy',
    usage: 'slipway env:set KEY=VALUE... [-a APP]',
    example: 'slipway env:set DATABASE_URL=postgres://db/app RAILS_ENV=production -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      const changes = parseAssignments(ctx.args);
      const env = await ctx.api().json<Record<string, string>>('PATCH', `/api/apps/${name}/env`, changes);
      if (ctx.out.json) return printJson(ctx.out, Object.keys(env));
      ctx.out.write(`Set ${Object.keys(changes).join(', ')} on ${name}; they apply at the next deploy.\n`);
    },
  },
  {
    name: 'env:unset',
    summary: 'remove variables; this applies at the next deploy',
    usage: 'slipway env:unset KEY... [-a APP]',
    example: 'slipway env:unset OLD_FLAG -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      if (ctx.args.length === 0) throw new CliError('Give at least one variable name: slipway env:unset KEY.', 2);
      const env = await ctx.api().json<Record<string, string>>('PATCH', `/api/apps/${name}/env`, Object.fromEntries(ctx.args.map((k) => [k, null])));
      if (ctx.out.json) return printJson(ctx.out, Object.keys(env));
      ctx.out.write(`Removed ${ctx.args.join(', ')} from ${name}; this applies at the next deploy.\n`);
    },
  },
];
