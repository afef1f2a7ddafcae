import { CertificateError } from '../certs/pem.js';
import { ConfigError, loadServerConfig } from '../server/config.js';
import { RouterRunningError, runRouterProcess } from '../router/process.js';
import { ensureRouter } from '../server/router-process.js';

export const ROUTER_HELP = `Usage: slipway router [options]

Runs the router on its own: app traffic on --router-port, from the routes the server recorded in
--data, following the server's changes; it keeps serving while the server restarts or is down.
"slipway server" starts one when none runs for its data directory. SIGHUP hands the port to a new
router process (an upgrade) without dropping a request; SIGTERM finishes the requests in flight
and stops.

Options:
  --detach              start the router in the background and exit once it serves (for
                        systemd's Type=forking; the pid is in <data>/router.pid)
  --data <dir>          the server's state directory (env SLIPWAY_DATA, default ~/.slipway)
  --router-port <n>     app traffic port (env SLIPWAY_ROUTER_PORT, default 8080)
  --host <addr>         address to bind (env SLIPWAY_HOST, default 127.0.0.1)
  --domain <name>       apps answer at <app>.<domain> (env SLIPWAY_DOMAIN, default localhost)
  --https-port <n>      HTTPS port, TLS terminated here (env SLIPWAY_HTTPS_PORT, default off)
  --config <file.yml>   the server's config file (routerWorkers, timeouts.drain and the above)

Example:
  slipway router --data /var/lib/slipway --router-port 80 --domain apps.example.com
`;

export async function routerCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(ROUTER_HELP);
    return 0;
  }
  const detach = argv.includes('--detach');
  let config;
  try {
    config = loadServerConfig(
      argv.filter((a) => a !== '--detach'),
      process.env,
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`slipway router: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  if (detach) {
    await ensureRouter(config, process.env, log);
    return 0;
  }
  try {
    await runRouterProcess({
      dataDir: config.dataDir,
      port: config.routerPort,
      host: config.host,
      domain: config.domain,
      tlsInFront: config.tlsInFront,
      httpsPort: config.httpsPort,
      tlsCert: config.tlsCert,
      tlsKey: config.tlsKey,
      access: config.routerMetrics ? { keepQuery: config.accessLogQuery, lines: config.accessLogLines } : undefined,
      processes: config.routerWorkers,
      drainMs: config.timeouts.drainMs,
      log,
    });
  } catch (error) {
    if (error instanceof RouterRunningError || error instanceof CertificateError) {
      process.stderr.write(`slipway router: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  return 0;
}
