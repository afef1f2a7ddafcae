import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, startServer, type TestServer } from '../support/server.js';

/** The server answers health checks a moment before it has printed its start-up lines. */
async function started(server: TestServer, starts = 1): Promise<string> {
  const readyLines = (): number => server.output().split(' ready\n').length - 1;
  for (let i = 0; i < 100 && readyLines() < starts; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return server.output();
}

test('without SLIPWAY_ADMIN_TOKEN, a token is generated once, kept 0600, and printed only on that first start', async () => {
  const server = await startServer({ env: { SLIPWAY_ADMIN_TOKEN: '' } });
  try {
    const file = path.join(server.dataDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^slw_/);
    expect(await started(server)).toContain(`admin token (shown once, saved in ${file}): ${token}`);
    const ok = await fetch(`${server.url}/api/apps`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);

    await server.crash();
    await server.restart();
    expect((await started(server, 2)).split(token).length - 1).toBe(1);
  } finally {
    await server.stop();
  }
}, 60_000);

test('binding beyond loopback warns, unless a TLS proxy is declared in front', async () => {
  const open = await startServer({ args: ['--host', '0.0.0.0'] });
  try {
    expect(await started(open)).toContain('warning: listening on 0.0.0.0, not loopback: tokens travel in clear text');
  } finally {
    await open.stop();
  }
  const behindTls = await startServer({ args: ['--host', '0.0.0.0'], env: { SLIPWAY_TLS_IN_FRONT: '1' } });
  try {
    expect(await started(behindTls)).not.toContain('warning: listening on');
  } finally {
    await behindTls.stop();
  }
  const local = await startServer();
  try {
    expect(await started(local)).not.toContain('warning: listening on');
  } finally {
    await local.stop();
  }
}, 60_000);

test('slipway server --help lists every setting; a bad value is refused naming where it came from, exit 2', async () => {
  const help = await execa(process.execPath, [CLI, 'server', '--help'], { reject: false });
  expect(help.exitCode).toBe(0);
  for (const name of ['--host <addr>', 'SLIPWAY_HOST', 'SLIPWAY_ROUTER_WORKERS', 'SLIPWAY_MAX_PUSH_MB', 'timeouts.run', 'SLIPWAY_RUN_TIMEOUT']) {
    expect(help.stdout).toContain(name);
  }
  const bad = await execa(process.execPath, [CLI, 'server', '--router-port', '80x'], { reject: false, env: { SLIPWAY_DATA: '/nonexistent/never-created' } });
  expect([bad.exitCode, bad.stdout, bad.stderr]).toEqual([
    2,
    '',
    'slipway server: "routerPort" must be a port number from 1 to 65535, not "80x" (from the --router-port flag)',
  ]);
  const fromEnv = await execa(process.execPath, [CLI, 'server'], { reject: false, env: { SLIPWAY_RUN_TIMEOUT: 'soon' } });
  expect([fromEnv.exitCode, fromEnv.stderr]).toEqual([
    2,
    'slipway server: "timeouts.run" must be a positive number of seconds, not "soon" (from SLIPWAY_RUN_TIMEOUT)',
  ]);
}, 60_000);
