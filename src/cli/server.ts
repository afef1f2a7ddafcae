import { ConfigError, loadServerConfig, settingsHelp } from '../server/config.js';
import { startSlipway } from '../server/slipway.js';
import { CertificateError } from '../certs/pem.js';

export const SERVER_HELP = `Usage: slipway server [options]

Starts Slipway: git and the JSON API on --port, app traffic on --router-port.

${settingsHelp()}
Example:
  slipway server --data /var/lib/slipway --domain apps.example.com
`;

export async function serverCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(SERVER_HELP);
    return 0;
  }
  let config;
  try {
    config = loadServerConfig(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`slipway server: ${error.explained}\n`);
      return 2;
    }
    throw error;
  }
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  let running;
  try {
    running = await startSlipway({ config, env: process.env, log });
  } catch (error) {
    if (error instanceof CertificateError) {
      process.stderr.write(`slipway server: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (config.host !== '127.0.0.1' && config.host !== 'localhost' && config.host !== '::1' && !config.tlsInFront && !config.apiTls) {
    log(
      `warning: listening on ${config.host}, not loopback: tokens travel in clear text; set apiTls: true with tls.cert and tls.key, or put a TLS proxy in front and set tlsInFront: true (SLIPWAY_TLS_IN_FRONT=1)`,
    );
  }
  if (running.adminToken.generated) {
    log(`admin token (shown once, saved in ${running.adminToken.file}): ${running.adminToken.token}`);
  }
  log(`git and API on ${running.apiUrl}, apps on ${running.routerUrl} as http://<app>.${config.domain}:${config.routerPort}`);
  log('ready');

  await new Promise<void>((resolve) => {
    const shutdown = (): void => resolve();
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  log('stopping (running containers keep serving until the next start)');
  await running.stop();
  return 0;
}
