import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { procfile, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { CLI, ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const APP = 'health-app';

/** busybox httpd runs /cgi-bin/up as CGI: it answers with the status and body given. */
function files(status: string, body: string): Record<string, string> {
  return {
    Dockerfile: 'FROM slipway/test-busybox:latest\nCOPY . /app\nRUN chmod +x /app/cgi-bin/up\nWORKDIR /app\n',
    Procfile: procfile({ web: WEB }),
    'cgi-bin/up': `#!/bin/sh\necho "Status: ${status}"\necho "Content-Type: text/plain"\necho\necho "${body}"\necho "second line"\n`,
  };
}

const suite = new ServerSuite([APP]);
let server: TestServer;
let slipway: CliRunner;
let app: TestApp;

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
}, 60_000);

afterAll(() => suite.stop(), 60_000);

test('with healthcheckPath, a release whose check answers 500 is refused (timeout-error) with the answer shown, and the old one keeps serving', async () => {
  expect((await server.api('POST', '/api/apps', { name: APP })).status).toBe(201);
  expect((await server.api('POST', `/api/apps/${APP}/storage`, { path: '/data' })).status).toBe(201);
  app = suite.app(files('200 OK', 'ok'));
  const v1 = await app.commit('healthy');
  expect((await app.push(server.remote(APP))).exitCode).toBe(0);

  const set = await slipway(['settings:set', 'healthcheckPath=/cgi-bin/up', 'bootTimeout=3', 'healthcheckTimeout=1', '-a', APP]);
  expect(set.exitCode).toBe(0);
  expect((await server.api('GET', `/api/apps/${APP}/settings`)).body).toMatchObject({ healthcheckPath: '/cgi-bin/up', healthcheckTimeout: 1, bootTimeout: 3 });

  await app.commit('database down', files('500 Internal Server Error', 'database unreachable'));
  const refused = await app.push(server.remote(APP));
  expect(refused.exitCode).not.toBe(0);
  expect(refused.output).toContain('(timeout-error)');
  const remote = refused.remote.join('\n');
  expect(remote).toContain('Waiting for web-1 to answer GET /cgi-bin/up on port');
  expect(remote).toMatch(
    /web-1 \(port \d+\) did not pass the health check GET \/cgi-bin\/up within 3\.0s: the last check got HTTP 500 "database unreachable"; make GET \/cgi-bin\/up answer 2xx or 3xx/,
  );
  expect((await getApp(server.routerPort, APP, '/version.txt')).body.trim()).toBe(v1);

  const v3 = await app.commit('database back', files('200 OK', 'ok'));
  const pushed = await app.push(server.remote(APP));
  expect(pushed.exitCode).toBe(0);
  expect((await getApp(server.routerPort, APP, '/version.txt')).body.trim()).toBe(v3);

  // Scale goes through the same gate.
  const scaled = await server.api<string>('POST', `/api/apps/${APP}/scale`, { web: 2 });
  expect(scaled.body).toContain('Waiting for web-2 to answer GET /cgi-bin/up');
  expect(scaled.body).toContain('"result"');

  const bad = await slipway(['settings:set', 'healthcheckPath=up', '-a', APP]);
  expect(bad.exitCode).not.toBe(0);
  expect(bad.stderr).toContain('healthcheckPath must be a path starting with "/"');
}, 120_000);

interface Ps {
  name: string;
  deployment: number;
  state: string;
}

async function stateOf(name: string): Promise<string | undefined> {
  const ps = (await server.api<Ps[]>('GET', `/api/apps/${APP}/ps`)).body;
  const current = Math.max(...ps.map((c) => c.deployment));
  return ps.find((c) => c.name === name && c.deployment === current)?.state;
}

async function servedBy(): Promise<string> {
  const env = (await getApp(server.routerPort, APP, '/env.txt')).body;
  return /^CONTAINER=(.*)$/m.exec(env)?.[1] ?? '';
}

test('a serving container that fails its checks leaves the rotation under load with no failed request, and comes back', async () => {
  // /cgi-bin/up fails in the container named by a file in the app's storage.
  await app.commit('checks per container', {
    Procfile: procfile({ web: `echo "$CONTAINER" > /app/me && ${WEB}` }),
    'cgi-bin/up':
      '#!/bin/sh\nif [ -f "/data/sick-$(cat /app/me)" ]; then echo "Status: 500 Internal Server Error"; echo; echo sick; else echo "Status: 200 OK"; echo; echo ok; fi\n',
  });
  expect((await app.push(server.remote(APP))).exitCode).toBe(0);
  expect((await slipway(['settings:set', 'healthcheckInterval=0.2', '-a', APP])).exitCode).toBe(0);

  let load = true;
  let answered = 0;
  const failed: string[] = [];
  const clients = [0, 1, 2].map(async () => {
    while (load) {
      const res = await getApp(server.routerPort, APP, '/version.txt').catch((e: Error) => ({ status: 0, body: e.message }));
      if (res.status === 200) answered++;
      else failed.push(`${res.status} ${res.body.slice(0, 80)}`);
    }
  });
  try {
    const volume = path.join(server.dataDir, 'volumes', APP, encodeURIComponent('/data'));
    writeFileSync(path.join(volume, 'sick-web-2'), '');
    while ((await stateOf('web-2')) !== 'unhealthy') await new Promise((r) => setTimeout(r, 100));
    const after = await Promise.all(Array.from({ length: 10 }, () => servedBy()));
    expect(new Set(after)).toEqual(new Set(['web-1']));
    expect(server.output()).toMatch(/health-app: slipway-health-app-\d+-web-2 failed 3 health checks in a row and left the rotation/);

    rmSync(path.join(volume, 'sick-web-2'));
    while ((await stateOf('web-2')) !== 'running') await new Promise((r) => setTimeout(r, 100));
    let seen = new Set<string>();
    while (!seen.has('web-2')) seen = new Set([...seen, await servedBy()]);
  } finally {
    load = false;
    await Promise.all(clients);
  }
  expect(failed).toEqual([]);
  expect(answered).toBeGreaterThan(0);
}, 120_000);

test('a container out of the rotation stays out after a server restart and in a router that starts anew, until its check passes', async () => {
  const volume = path.join(server.dataDir, 'volumes', APP, encodeURIComponent('/data'));
  writeFileSync(path.join(volume, 'sick-web-2'), '');
  while ((await stateOf('web-2')) !== 'unhealthy') await new Promise((r) => setTimeout(r, 100));
  // A check a minute apart: neither a new server nor a new router could take it out again by itself in time.
  expect((await slipway(['settings:set', 'healthcheckInterval=60', '-a', APP])).exitCode).toBe(0);
  const served = async (): Promise<Set<string>> => new Set(await Promise.all(Array.from({ length: 10 }, () => servedBy())));

  let follows = followed();
  await server.crash();
  await server.restart();
  await routerSynced(follows);
  expect(await served()).toEqual(new Set(['web-1']));
  expect(await stateOf('web-2')).toBe('unhealthy');

  // The router killed and started on its own while no server runs: it starts from what was recorded.
  const router = server.routerPid()!;
  await server.crash();
  process.kill(router, 'SIGKILL');
  while (isAlive(router)) await new Promise((r) => setTimeout(r, 50));
  const started = spawn(CLI, ['router', '--detach', '--data', server.dataDir, '--router-port', String(server.routerPort)], { stdio: 'ignore' });
  expect(await new Promise((resolve) => started.once('exit', resolve))).toBe(0);
  expect(await served()).toEqual(new Set(['web-1']));
  // A server that starts now gives the same to the router that runs.
  follows = followed();
  await server.restart();
  await routerSynced(follows);
  expect(await served()).toEqual(new Set(['web-1']));

  rmSync(path.join(volume, 'sick-web-2'));
  expect((await slipway(['settings:set', 'healthcheckInterval=0.2', '-a', APP])).exitCode).toBe(0);
  while ((await stateOf('web-2')) !== 'running') await new Promise((r) => setTimeout(r, 100));
  let seen = new Set<string>();
  while (!seen.has('web-2')) seen = new Set([...seen, await servedBy()]);
}, 180_000);

/** How many times a router connected to a server (router.log). */
function followed(): number {
  return readFileSync(path.join(server.dataDir, 'router.log'), 'utf8').split('router: following the server').length - 1;
}

/** Once the router connected to the server again, and so has the state it sent (a later change reached it). */
async function routerSynced(before: number): Promise<void> {
  while (followed() <= before) await new Promise((r) => setTimeout(r, 50));
  expect((await server.api('POST', `/api/apps/${APP}/domains`, { domain: 'sync.health.example' })).status).toBe(201);
  expect((await server.api('DELETE', `/api/apps/${APP}/domains/sync.health.example`)).status).toBeLessThan(300);
}

/** Running, and not a zombie its new parent has yet to reap. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
