import { firstArg, keyValues, type Command, type CommandContext } from '../command.js';
import { CliError } from '../errors.js';
import { printJson, table } from '../output.js';
import { shellQuote } from '../shell.js';
import { restartApp } from './formation.js';

const HIDDEN = '******** (slipway env --reveal)';

/** Changes the variables; with --restart, restarts the containers (rolling) so they apply now. */
async function changeEnv(ctx: CommandContext, changes: Record<string, string | null>, done: (app: string) => string): Promise<void> {
  const name = await ctx.app();
  const env = await ctx.api().json<Record<string, string>>('PATCH', `/api/apps/${name}/env`, changes);
  const restarted = ctx.options.restart ? await restartApp(ctx, name, undefined) : undefined;
  if (ctx.out.json) return printJson(ctx.out, restarted ? { variables: Object.keys(env), restarted } : Object.keys(env));
  const when = restarted
    ? `the containers restarted with them (${restarted.join(', ') || 'none running'})`
    : 'they apply at the next deploy or slipway restart';
  ctx.out.write(`${done(name)}; ${when}.\n`);
}

function parseAssignments(args: string[]): Record<string, string> {
  if (args.length === 0) throw new CliError('Give at least one variable: slipway env:set KEY=VALUE.', 2);
  return assignments(args);
}

/** KEY=VALUE arguments as variables (the server checks the names). */
export function assignments(args: readonly string[]): Record<string, string> {
  return keyValues(
    args,
    (value) => value,
    (arg) => `"${arg}" is not KEY=VALUE; write it as e.g. DATABASE_URL=postgres://…`,
  );
}

export const envCommands: Command[] = [
  {
    name: 'env',
    aliases: ['config'],
    summary: "the app's environment variables (values hidden unless --reveal)",
    usage: 'slipway env [-a APP] [--reveal] [--shell] [--json]',
    example: 'slipway env -a my-app --shell > .env',
    options: { reveal: { type: 'boolean' }, shell: { type: 'boolean' } },
    async run(ctx) {
      const name = await ctx.app();
      const env = await ctx.api().json<Record<string, string>>('GET', `/api/apps/${name}/env`);
      // KEY=value lines a shell (or a .env file) takes as they are: values shown.
      if (ctx.options.shell)
        return ctx.out.write(
          Object.entries(env)
            .map(([k, v]) => `${k}=${shellQuote(v)}\n`)
            .join(''),
        );
      const shown = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, ctx.options.reveal ? v : HIDDEN]));
      if (ctx.out.json) return printJson(ctx.out, shown);
      if (Object.keys(shown).length === 0) return ctx.out.write(`${name} has no variables: slipway env:set KEY=VALUE -a ${name}\n`);
      ctx.out.write(table(['NAME', 'VALUE'], Object.entries(shown)));
    },
  },
  {
    name: 'env:get',
    aliases: ['config:get'],
    summary: "one variable's value, as it is (for scripts)",
    usage: 'slipway env:get KEY [-a APP] [--json]',
    example: 'psql "$(slipway env:get DATABASE_URL -a my-app)"',
    async run(ctx) {
      const key = firstArg(ctx, 'Give the variable name: e.g. slipway env:get DATABASE_URL.');
      const name = await ctx.app();
      const env = await ctx.api().json<Record<string, string>>('GET', `/api/apps/${name}/env`);
      const value = env[key];
      if (value === undefined) throw new CliError(`${key} is not set on ${name}; set it with slipway env:set ${key}=VALUE -a ${name}.`);
      if (ctx.out.json) return printJson(ctx.out, { [key]: value });
      ctx.out.write(`${value}\n`);
    },
  },
  {
    name: 'env:set',
    aliases: ['config:set'],
    summary: 'set variables; they apply at the next deploy, or now with --restart (rolling, no downtime)',
    usage: 'slipway env:set KEY=VALUE... [-a APP] [--restart]',
    example: 'slipway env:set DATABASE_URL=postgres://db/app RAILS_ENV=production -a my-app --restart',
    options: { restart: { type: 'boolean' } },
    async run(ctx) {
      const changes = parseAssignments(ctx.args);
      await changeEnv(ctx, changes, (app) => `Set ${Object.keys(changes).join(', ')} on ${app}`);
    },
  },
  {
    name: 'env:unset',
    aliases: ['config:unset'],
    summary: 'remove variables; this applies at the next deploy, or now with --restart',
    usage: 'slipway env:unset KEY... [-a APP] [--restart]',
    example: 'slipway env:unset OLD_FLAG -a my-app --restart',
    options: { restart: { type: 'boolean' } },
    async run(ctx) {
      if (ctx.args.length === 0) throw new CliError('Give at least one variable name: slipway env:unset KEY.', 2);
      await changeEnv(ctx, Object.fromEntries(ctx.args.map((k) => [k, null])), (app) => `Removed ${ctx.args.join(', ')} from ${app}`);
    },
  },
];
