import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './client.js';
import { CliError } from './errors.js';
import type { Output } from './output.js';

export interface CommandContext {
  /** Positional arguments after the command name. */
  args: string[];
  /** Parsed options (strings, booleans, and lists of those given `multiple`). */
  options: Record<string, string | boolean | string[] | undefined>;
  out: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The API, connected lazily (commands like login need none). */
  api(): ApiClient;
  /** The app: -a/--app, else the current repository's `deploy` remote. */
  app(): Promise<string>;
}

export interface Command {
  name: string;
  /** Other names it answers to: Heroku's and Dokku's, for their users' habits. */
  aliases?: readonly string[];
  summary: string;
  usage: string;
  example: string;
  options?: ParseArgsConfig['options'];
  /**
   * The arguments end with a command line (`slipway run node -v`): Slipway's options come first,
   * and the command's first word (or `--`) ends them, so the command's own options stay its own.
   */
  endsWithCommand?: boolean;
  run(ctx: CommandContext): Promise<number | void>;
}

/**
 * Splits arguments where a command line starts: after `--`, or at the first word that is
 * neither an option nor the value of one (`-a APP`, `--env KEY=VALUE`), as `docker run` reads them.
 */
export function splitAtCommand(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): { own: string[]; command: string[] } {
  const takesValue = (arg: string): boolean => {
    if (arg.startsWith('--')) return !arg.includes('=') && options[arg.slice(2)]?.type === 'string';
    // A group of short options (-dA): only the last one can take the next word as its value.
    const last = arg.at(-1);
    return Object.values(options).some((o) => o.short === last && o.type === 'string') && arg.length >= 2;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return { own: argv.slice(0, i), command: argv.slice(i + 1) };
    if (!arg.startsWith('-') || arg === '-') return { own: argv.slice(0, i), command: argv.slice(i) };
    if (takesValue(arg)) i++;
  }
  return { own: [...argv], command: [] };
}

/** The first positional argument, or a usage error (exit 2) saying how to give it. */
export function firstArg(ctx: CommandContext, howTo: string): string {
  const value = ctx.args[0];
  if (!value) throw new CliError(howTo, 2);
  return value;
}

/**
 * `KEY=value` arguments, each value through `convert` (undefined: not a valid value). One that
 * is not such an assignment is a usage error (exit 2) with the sentence `wrong` makes of it.
 */
export function keyValues<T>(args: readonly string[], convert: (value: string) => T | undefined, wrong: (arg: string) => string): Record<string, T> {
  const values: Record<string, T> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const value = eq > 0 ? convert(arg.slice(eq + 1)) : undefined;
    if (value === undefined) throw new CliError(wrong(arg), 2);
    values[arg.slice(0, eq)] = value;
  }
  return values;
}
