#!/usr/bin/env node
import { serverCommand } from './cli/server.js';

const HELP = `Usage: slipway <command> [options]

Commands:
  server     start the Slipway server (git, API and router)

Run "slipway <command> --help" for a command's options.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return serverCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`slipway: unknown command "${command}"; run "slipway help" for the list\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`slipway: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
