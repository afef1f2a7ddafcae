import type { ReadStream, WriteStream } from 'node:tty';
import { RUN_PROTOCOL, TERM_NAME } from '../../run/protocol.js';
import { attach, type AttachedTerminal } from '../attach.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { printJson } from '../output.js';
import { shellQuote } from '../shell.js';
import { assignments } from './env.js';

// `--` is optional (`slipway run node -v`): the command's first word ends Slipway's options too.
const USAGE = 'slipway run [-a APP] [-e KEY=VALUE]... [--detached] [--json] [--no-tty] -- COMMAND...';

interface DetachedJson {
  name: string;
  container: string;
}

export const runCommands: Command[] = [
  {
    name: 'run',
    summary: 'run a command in a one-off container of the current release (with a terminal when run from one; --detached: in the background)',
    usage: USAGE,
    example: "slipway run -a my-app -- sh -c 'rake db:migrate && rake db:seed'",
    options: { detached: { type: 'boolean', short: 'd' }, 'no-tty': { type: 'boolean' }, env: { type: 'string', short: 'e', multiple: true } },
    endsWithCommand: true,
    async run(ctx) {
      if (ctx.args.length === 0) throw new CliError(`Give the command to run after --: ${USAGE}`, 2);
      const detached = ctx.options.detached === true;
      if (ctx.out.json && !detached) {
        const why = "--json goes with --detached (it prints the one-off's name); an attached run prints the command's own output";
        throw new CliError(`${why}. Usage: ${USAGE}`, 2);
      }
      const app = await ctx.app();
      const command = commandLine(ctx.args);
      const given = ctx.options.env;
      // Variables for this run only, on top of the app's.
      const env = Array.isArray(given) ? assignments(given) : undefined;
      const pathname = `/api/apps/${encodeURIComponent(app)}/run`;
      if (detached) {
        const started = await ctx.api().json<DetachedJson>('POST', pathname, { command, env });
        if (ctx.out.json) return printJson(ctx.out, started);
        ctx.out.write(`Started ${started.name} of ${app}, detached: ${command}\nRead its output with: slipway logs --ps ${started.name} -a ${app}\n`);
        return;
      }
      const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
      const terminal = ctx.options['no-tty'] === true ? undefined : terminalOf(process.stdin, process.stdout);
      if (terminal === undefined) {
        const { socket, head } = await ctx.api().upgrade(pathname, RUN_PROTOCOL, { command, env });
        return attach(socket, head, io);
      }
      const size = terminal.size();
      // A terminal that does not know its size (0 × 0) leaves the command's at Docker's default.
      const tty = { ...(size.rows > 0 && size.cols > 0 ? size : {}), term: termOf(process.env.TERM) };
      const { socket, head } = await ctx.api().upgrade(pathname, RUN_PROTOCOL, { command, env, tty });
      // Every key goes to the command's terminal as typed: Ctrl-C interrupts the command there.
      process.stdin.setRawMode(true);
      try {
        return await attach(socket, head, { ...io, terminal });
      } finally {
        process.stdin.setRawMode(false);
      }
    },
  },
];

/** The local terminal, when both input and output are one (as `heroku run` decides). */
function terminalOf(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): AttachedTerminal | undefined {
  if (!stdin.isTTY || !stdout.isTTY) return undefined;
  const input = stdin as ReadStream;
  const output = stdout as WriteStream;
  if (typeof input.setRawMode !== 'function') return undefined;
  return {
    size: () => ({ rows: output.rows, cols: output.columns }),
    onResize: (listener) => {
      output.on('resize', listener);
      return () => output.off('resize', listener);
    },
  };
}

/** TERM for the command: the local one when the server will take it. */
function termOf(term: string | undefined): string {
  return term !== undefined && TERM_NAME.test(term) ? term : 'xterm';
}

/**
 * What the container's shell runs. One argument is a command line as typed (`'rake db:migrate
 * && echo done'`); several are words, each quoted so it arrives as one argument, as with
 * `docker run` (`-- sh -c 'echo out; exit 3'`).
 */
export function commandLine(args: readonly string[]): string {
  if (args.length === 1) return args[0]!;
  return args.map(shellQuote).join(' ');
}
