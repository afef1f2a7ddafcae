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
  run(ctx: CommandContext): Promise<number | void>;
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
