import { parseArgs } from 'node:util';
import { resolveApp } from './app-name.js';
import { ApiClient } from './client.js';
import { splitAtCommand, type Command, type CommandContext } from './command.js';
import { appsCommands } from './commands/apps.js';
import { dashboardCommands } from './commands/dashboard.js';
import { deploymentCommands } from './commands/deployments.js';
import { envCommands } from './commands/env.js';
import { formationCommands } from './commands/formation.js';
import { domainCommands } from './commands/domains.js';
import { certCommands } from './commands/certs.js';
import { certsAutoCommands } from './commands/certs-auto.js';
import { settingsCommands } from './commands/settings.js';
import { storageCommands } from './commands/storage.js';
import { metricsCommands } from './commands/metrics.js';
import { logCommands } from './commands/logs.js';
import { notifierCommands } from './commands/notifiers.js';
import { cronCommands } from './commands/cron.js';
import { runCommands } from './commands/run.js';
import { nodeCommands } from './commands/nodes.js';
import { tokenCommands } from './commands/tokens.js';
import { loadConnection } from './connection.js';
import { CliError } from './errors.js';
import { makeOutput } from './output.js';

export const COMMANDS: Command[] = [
  ...appsCommands,
  ...envCommands,
  ...deploymentCommands,
  ...formationCommands,
  ...domainCommands,
  ...certCommands,
  ...certsAutoCommands,
  ...settingsCommands,
  ...storageCommands,
  ...logCommands,
  ...metricsCommands,
  ...runCommands,
  ...notifierCommands,
  ...cronCommands,
  ...tokenCommands,
  ...dashboardCommands,
  ...nodeCommands,
];

const COMMON_OPTIONS = {
  app: { type: 'string', short: 'a' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.summary.charAt(0).toUpperCase()}${command.summary.slice(1)}.\n\nExample:\n  ${command.example}\n`;
}

/** The command `name` names, by its name or one of its aliases. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}

export function commandList(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 'server'.length);
  return COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.aliases ? ` (also ${c.aliases.join(', ')})` : ''}`).join('\n');
}

/**
 * Node's sentence for an argument it could not parse, without the hint it adds to an unknown
 * option (to quote it after `--`), which misleads: an unknown option is a typo of one of ours.
 */
function parseProblem(error: Error & { code?: string }): string {
  const message = error.message.replace(/\.$/, '');
  return error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? message.replace(/\. To specify a positional argument .*$/s, '') : message;
}

/** Runs one app-management command; returns the exit code. */
export async function runCommand(command: Command, argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const known = { ...COMMON_OPTIONS, ...command.options };
  const { own, command: commandLine } = command.endsWithCommand ? splitAtCommand(argv, known) : { own: argv, command: [] };
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: known, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${parseProblem(error as Error & { code?: string })}. Usage: ${command.usage}`, 2);
  }
  const options = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const out = makeOutput(options.json === true, env);
  if (options.help) {
    out.write(commandHelp(command));
    return 0;
  }
  let client: ApiClient | undefined;
  const ctx: CommandContext = {
    args: [...parsed.positionals, ...commandLine],
    options,
    out,
    env,
    cwd,
    api: () => (client ??= new ApiClient(loadConnection(env))),
    app: () => resolveApp(typeof options.app === 'string' ? options.app : undefined, cwd),
  };
  return (await command.run(ctx)) ?? 0;
}
