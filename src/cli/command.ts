import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './client.js';
import type { Output } from './output.js';

export interface CommandContext {
  /** Positional arguments after the command name. */
  args: string[];
  /** Parsed options (strings and booleans). */
  options: Record<string, string | boolean | undefined>;
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
  summary: string;
  usage: string;
  example: string;
  options?: ParseArgsConfig['options'];
  run(ctx: CommandContext): Promise<number | void>;
}
