import { execa } from 'execa';
import { CLI, type TestServer } from './server.js';

export interface CliOptions {
  /** null: no SLIPWAY_TOKEN at all; default: the server's admin token. */
  token?: string | null;
  cwd?: string;
  input?: string | Buffer;
}

/** Runs the real CLI (dist/cli.js) as a user would, never on a TTY, with its own HOME. */
export function cliRunner(server: TestServer, home: string) {
  return (args: string[], options: CliOptions = {}) => {
    const env: Record<string, string> = { HOME: home, PATH: process.env.PATH ?? '', SLIPWAY_URL: server.url };
    if (options.token !== null) env.SLIPWAY_TOKEN = options.token ?? server.token;
    return execa(process.execPath, [CLI, ...args], {
      env,
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
      cwd: options.cwd ?? home,
      input: options.input,
    });
  };
}
