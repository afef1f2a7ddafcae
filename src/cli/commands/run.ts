import { RUN_PROTOCOL } from '../../run/protocol.js';
import { attach } from '../attach.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { printJson } from '../output.js';

const USAGE = 'slipway run [-a APP] [--detached] [--json] -- COMMAND...';

interface DetachedJson {
  name: string;
  container: string;
}

export const runCommands: Command[] = [
  {
    name: 'run',
    summary: "run a command in a one-off container of the app's current release, attached (--detached: in the background)",
    usage: USAGE,
    example: "slipway run -a my-app -- sh -c 'rake db:migrate && rake db:seed'",
    options: { detached: { type: 'boolean', short: 'd' } },
    async run(ctx) {
      if (ctx.args.length === 0) throw new CliError(`Give the command to run after --: ${USAGE}`, 2);
      const detached = ctx.options.detached === true;
      if (ctx.out.json && !detached) {
        const why = "--json goes with --detached (it prints the one-off's name); an attached run prints the command's own output";
        throw new CliError(`${why}. Usage: ${USAGE}`, 2);
      }
      const app = await ctx.app();
      const command = commandLine(ctx.args);
      const pathname = `/api/apps/${encodeURIComponent(app)}/run`;
      if (detached) {
        const started = await ctx.api().json<DetachedJson>('POST', pathname, { command });
        if (ctx.out.json) return printJson(ctx.out, started);
        ctx.out.write(`Started ${started.name} of ${app}, detached: ${command}\nRead its output with: slipway logs --ps ${started.name} -a ${app}\n`);
        return;
      }
      const { socket, head } = await ctx.api().upgrade(pathname, RUN_PROTOCOL, { command });
      return attach(socket, head, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    },
  },
];

/**
 * What the container's shell runs. One argument is a command line as typed (`'rake db:migrate
 * && echo done'`); several are words, each quoted so it arrives as one argument, as with
 * `docker run` (`-- sh -c 'echo out; exit 3'`).
 */
export function commandLine(args: readonly string[]): string {
  if (args.length === 1) return args[0]!;
  return args.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
