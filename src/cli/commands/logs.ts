import { ContainerColors, formatLogLine } from '../../logs/format.js';
import type { LogRecord } from '../../logs/merge.js';
import { LineSplitter } from '../../util/lines.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';

const MAX_LINES = 10_000;
/** Long enough for the longest line the server sends (8 KiB of text, JSON-escaped). */
const MAX_RECORD_LENGTH = 1 << 20;

interface ProcessJson {
  name: string;
  type: string | null;
}

function parseLines(value: string | undefined): number {
  if (value === undefined) return 100;
  const lines = Number(value);
  if (!/^\d+$/.test(value) || lines < 1 || lines > MAX_LINES) {
    throw new CliError(`--lines takes a whole number from 1 to ${MAX_LINES}, not "${String(value)}"; e.g. slipway logs --lines 200.`, 2);
  }
  return lines;
}

/** Why nothing will be printed, or undefined when some container (or the router) matches. */
function emptyHint(app: string, containers: ProcessJson[], type: string | undefined, ps: string | undefined): string | undefined {
  // The router's access lines: `--type router` (or `--ps router`) reads them alone.
  if ((type === undefined || type === 'router') && (ps === undefined || ps === 'router') && (type ?? ps) !== undefined) return undefined;
  if (containers.length === 0) return `${app} has no containers yet; deploy it with git push deploy main`;
  const unique = (values: (string | null)[]): string => [...new Set(values.filter((v): v is string => v !== null))].sort().join(', ');
  if (type !== undefined && !containers.some((c) => c.type === type)) {
    return `${app} has no container of type "${type}"; its types are ${unique(containers.map((c) => c.type))}`;
  }
  if (ps !== undefined && !containers.some((c) => c.name === ps && (type === undefined || c.type === type))) {
    return `${app} has no container named "${ps}"${type === undefined ? '' : ` of type "${type}"`}; its containers are ${unique(containers.map((c) => c.name))}`;
  }
  return undefined;
}

export const logCommands: Command[] = [
  {
    name: 'logs',
    summary: "the output of the app's containers and the router's access lines, merged in time order (--follow: live; --type router: requests only)",
    usage: 'slipway logs [-a APP] [-n|--lines N] [-f|--follow|-t|--tail] [--type TYPE] [--ps NAME] [--json]',
    example: 'slipway logs -a my-app --follow --type web',
    options: {
      follow: { type: 'boolean', short: 'f' },
      // Heroku's and Dokku's name for following.
      tail: { type: 'boolean', short: 't' },
      lines: { type: 'string', short: 'n' },
      type: { type: 'string' },
      ps: { type: 'string' },
    },
    async run(ctx) {
      const lines = parseLines(typeof ctx.options.lines === 'string' ? ctx.options.lines : undefined);
      const follow = ctx.options.follow === true || ctx.options.tail === true;
      const type = typeof ctx.options.type === 'string' ? ctx.options.type : undefined;
      const ps = typeof ctx.options.ps === 'string' ? ctx.options.ps : undefined;
      const name = await ctx.app();
      const api = ctx.api();

      const containers = await api.json<ProcessJson[]>('GET', `/api/apps/${encodeURIComponent(name)}/ps`);
      const hint = emptyHint(name, containers, type, ps);
      if (hint !== undefined) {
        // Following goes on: the next deployment or scale-up may bring a matching container.
        process.stderr.write(`${hint}${follow ? '; waiting for one to start (Ctrl-C to stop)' : ''}\n`);
        if (!follow) return 0;
      }

      const query = new URLSearchParams({ lines: String(lines) });
      if (follow) query.set('follow', '1');
      if (type !== undefined) query.set('type', type);
      if (ps !== undefined) query.set('ps', ps);
      const colors = ctx.out.color ? new ContainerColors() : undefined;
      const splitter = new LineSplitter((line) => {
        if (line.trim() === '') return; // the server's keep-alive
        if (ctx.out.json) return ctx.out.write(`${line}\n`);
        ctx.out.write(`${formatLogLine(JSON.parse(line) as LogRecord, colors)}\n`);
      }, MAX_RECORD_LENGTH);
      try {
        await api.stream(`/api/apps/${encodeURIComponent(name)}/logs?${query}`, (text) => splitter.write(text));
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError('The server closed the log stream (it stopped or restarted); run slipway logs again to carry on.');
      }
      splitter.end();
    },
  },
];
