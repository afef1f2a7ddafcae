import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runningRouter } from '../router/pidfile.js';
import type { ServerConfig } from './config.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../cli.js');
const START_WAIT_MS = 15_000;

/** The router process did not start; the message says where its output is. */
export class RouterStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouterStartError';
  }
}

/**
 * Makes sure a router process serves the data directory: reuses a running one, else starts one
 * detached (its own session, output in <data>/router.log), so it outlives this server. Resolves
 * once it serves.
 */
export async function ensureRouter(config: ServerConfig, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
  const running = runningRouter(config.dataDir);
  if (running !== undefined) {
    log(`router ${running} already serves ${config.dataDir}; using it (restart it to change its settings)`);
    return;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(config.dataDir, 'router.log');
  const out = openSync(logFile, 'a', 0o600);
  const child = spawn(
    process.execPath,
    [CLI, 'router', '--data', config.dataDir, '--router-port', String(config.routerPort), '--host', config.host, '--domain', config.domain],
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...env,
        SLIPWAY_ROUTER_WORKERS: String(config.routerWorkers),
        SLIPWAY_DRAIN_TIMEOUT: String(config.timeouts.drainMs / 1000),
        SLIPWAY_TLS_IN_FRONT: String(config.tlsInFront),
        ...(config.httpsPort === undefined ? {} : { SLIPWAY_HTTPS_PORT: String(config.httpsPort) }),
        ...(config.tlsCert === undefined ? {} : { SLIPWAY_TLS_CERT: config.tlsCert }),
        ...(config.tlsKey === undefined ? {} : { SLIPWAY_TLS_KEY: config.tlsKey }),
        SLIPWAY_ROUTER_METRICS: String(config.routerMetrics),
        SLIPWAY_ACCESS_LOG_QUERY: String(config.accessLogQuery),
        SLIPWAY_ACCESS_LOG_LINES: String(config.accessLogLines),
      },
    },
  );
  closeSync(out);
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + START_WAIT_MS;
  for (;;) {
    const pid = runningRouter(config.dataDir);
    if (pid !== undefined) {
      log(`started router ${pid} (output in ${logFile})`);
      return;
    }
    const code = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (code !== undefined || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' / ');
      throw new RouterStartError(`the router did not start${code !== undefined ? ` (exit code ${code})` : ''}: ${tail || 'no output'}; see ${logFile}`);
    }
  }
}
