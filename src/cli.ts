#!/usr/bin/env node
import { CliError } from './cli/errors.js';
import { COMMANDS, commandList, findCommand, runCommand } from './cli/main.js';

const HELP = `Usage: slipway <command> [options]

Commands:
  server${' '.repeat(Math.max(2, Math.max(...COMMANDS.map((c) => c.name.length)) - 4))}start the Slipway server (git and API; starts the router if none runs)
  router${' '.repeat(Math.max(2, Math.max(...COMMANDS.map((c) => c.name.length)) - 4))}run the router on its own (app traffic; outlives the server)
${commandList()}

Connection: SLIPWAY_URL (default http://127.0.0.1:7070) and SLIPWAY_TOKEN, or slipway login.
The app: -a/--app NAME, else the current repository's "deploy" remote. Listings take --json.
Run "slipway <command> --help" for a command's options and an example.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // The server pulls in Docker, SQLite and git modules: the other commands start without them.
  if (name === 'server') return (await import('./cli/server.js')).serverCommand(rest);
  if (name === 'router') return (await import('./cli/router.js')).routerCommand(rest);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  const command = findCommand(name);
  if (!command) {
    process.stderr.write(`slipway: unknown command "${name}"; run "slipway help" for the list\n`);
    return 2;
  }
  return runCommand(command, rest, process.env, process.cwd());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`slipway: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`slipway: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
