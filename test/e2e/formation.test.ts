import { jest } from '@jest/globals';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { steadyLoad } from '../support/load.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

// Every test here deploys, scales, restarts or rolls back real containers: each test and hook
// gets up to 3 minutes (an explicit bound, so a slow machine is not a failure).
jest.setTimeout(180_000);

const NAME = 'shape-app';
/** Serves its GREETING and the volume's files (/data/…) besides the commit (/version.txt). */
const GREETING_WEB = `test -z "$CRASH" || { echo "crashing as asked"; exit 3; }; echo "$GREETING" > /app/greeting.txt && ln -s /data /app/data && ${WEB}`;
const WORKER = 'echo "worker $CONTAINER up"; exec sleep 1000';
/** The hook records each release it ran for on the volume; FAIL_HOOK makes it fail instead. */
const HOOK = 'test -z "$FAIL_HOOK" && echo "$CONTAINER_VERSION" >> /data/releases.txt && echo "recorded $CONTAINER_VERSION"';

const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;
let slipway: CliRunner;
const commits: string[] = [];

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
  app = suite.app(busyboxApp({ web: GREETING_WEB, worker: WORKER, postdeploy: HOOK }));
}, 60_000);

afterAll(() => suite.stop());

async function ps(): Promise<{ name: string; type: string; deployment: number; container: string; state: string }[]> {
  return JSON.parse((await slipway(['ps', '-a', NAME, '--json'])).stdout as string);
}

/** Which web containers answer: CONTAINER as each one's env.txt tells it, over a few requests. */
async function answering(requests = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const { body } = await getApp(server.routerPort, NAME, '/env.txt');
    seen.add(/^CONTAINER=(.*)$/m.exec(body)?.[1] ?? body);
  }
  return seen;
}

test('storage:mount validates the path; the hook writes on the volume and the release reads it, across deploys', async () => {
  expect((await slipway(['apps:create', NAME])).exitCode).toBe(0);
  const mounted = await slipway(['storage:mount', '/data', '-a', NAME]);
  expect([mounted.exitCode, mounted.stdout]).toEqual([
    0,
    `Mounted persistent storage at /data in ${NAME}; it applies to containers started from now on: run slipway restart, or deploy.\n`,
  ]);
  const listed = JSON.parse((await slipway(['storage', '-a', NAME, '--json'])).stdout as string) as { path: string; hostPath: string }[];
  expect(listed.map((m) => m.path)).toEqual(['/data']);
  expect((await slipway(['storage', '-a', NAME])).stdout).toMatch(/^PATH\s+HOST DIRECTORY\s+CREATED\n\/data\s+\S+\s+\d+s ago\n$/);

  const refused: [string, string][] = [
    ['data', '"data" is not a mount path; send an absolute path of letters, digits, ".", "_" and "-", e.g. {"path": "/data"}.'],
    ['/etc', '/etc belongs to the image or the system; mount storage at a path of its own, e.g. /data.'],
    ['/usr/lib/x', '/usr/lib/x belongs to the image or the system; mount storage at a path of its own, e.g. /data.'],
    ['/a/../etc', '"/a/../etc" is not a mount path; send an absolute path of letters, digits, ".", "_" and "-", e.g. {"path": "/data"}.'],
    ['/data', `/data is already mounted in ${NAME}.`],
  ];
  for (const [mountPath, message] of refused) {
    const result = await slipway(['storage:mount', mountPath, '-a', NAME]);
    expect([mountPath, result.exitCode, result.stderr]).toEqual([mountPath, 1, `slipway: ${message}\n`]);
  }
  expect((await slipway(['storage:mount', '-a', NAME])).exitCode).toBe(2);

  commits.push(await app.commit('v1'));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  expect(await getApp(server.routerPort, NAME, '/data/releases.txt')).toEqual({ status: 200, body: `${commits[0]}\n` });
  commits.push(await app.commit('v2', { 'index.html': 'v2\n' }));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  // Kept across deploys: the second hook appended to what the first wrote.
  expect(await getApp(server.routerPort, NAME, '/data/releases.txt')).toEqual({ status: 200, body: `${commits[0]}\n${commits[1]}\n` });
  expect(readFileSync(path.join(listed[0]!.hostPath, 'releases.txt'), 'utf8')).toBe(`${commits[0]}\n${commits[1]}\n`);
});

test('scale web=2 worker=0 starts, boots and routes the new web container and stops the worker', async () => {
  const result = await slipway(['scale', 'web=2', 'worker=0', '-a', NAME, '--json']);
  expect(result.exitCode).toBe(0);
  expect(JSON.parse(result.stdout as string)).toEqual({ formation: { web: 2, worker: 0 }, started: ['web-2'], stopped: ['worker-1'] });
  // Progress went to stderr, one plain line per step (not a TTY).
  expect(result.stderr).toContain('-----> Waiting for web-2 to accept connections on port');
  expect(result.stderr).toContain('-----> Routing shape-app to web-1, web-2');
  expect((await ps()).map((c) => `${c.name}@${c.deployment}`)).toEqual(['web-1@2', 'web-2@2']);
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));

  const words = await slipway(['scale', 'worker=1', '-a', NAME]);
  expect(words.stdout).toBe('Scaled shape-app to web=2 worker=1.\n');
  expect((await ps()).map((c) => c.name)).toEqual(['web-1', 'web-2', 'worker-1']);
  // With no TYPE=COUNT, scale shows the formation (as heroku ps:scale does).
  expect(await slipway(['scale', '-a', NAME])).toMatchObject({ exitCode: 0, stdout: 'web=2 worker=1\n' });
  expect(JSON.parse((await slipway(['scale', '-a', NAME, '--json'])).stdout as string)).toEqual({ web: 2, worker: 1 });

  // The next deploy keeps the counts.
  commits.push(await app.commit('v3', { 'index.html': 'v3\n' }));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  expect((await ps()).map((c) => `${c.name}@${c.deployment}`)).toEqual(['web-1@3', 'web-2@3', 'worker-1@3']);
});

test('scale refuses undefined types, bad counts and an app without a release, changing nothing', async () => {
  const before = await appContainers(NAME);
  const cases: [string[], number, string][] = [
    [['scale', 'wrker=1'], 1, 'The Procfile of deployment 3 has no process type "wrker"; its types are web, worker.'],
    [['scale', 'web=51'], 1, 'web=51 is not a valid count; use a whole number from 0 to 50.'],
    [['scale', 'web=two'], 2, '"web=two" is not TYPE=COUNT; write it as e.g. web=2.'],
    [['restart', 'wrker'], 1, 'The Procfile of deployment 3 has no process type "wrker"; its types are web, worker.'],
  ];
  for (const [args, code, message] of cases) {
    const result = await slipway([...args, '-a', NAME]);
    expect([args.join(' '), result.exitCode, result.stderr]).toEqual([args.join(' '), code, `slipway: ${message}\n`]);
  }
  expect(await appContainers(NAME)).toEqual(before);
  expect((await slipway(['apps:create', 'empty-app'])).exitCode).toBe(0);
  const empty = await slipway(['scale', 'web=1', '-a', 'empty-app']);
  expect([empty.exitCode, empty.stderr]).toEqual([1, 'slipway: empty-app has no release running yet; deploy it first: git push deploy main.\n']);
  const shown = await slipway(['scale', '-a', 'empty-app']);
  expect([shown.exitCode, shown.stderr]).toEqual([1, 'slipway: empty-app has no release running yet; deploy it first: git push deploy main.\n']);
  expect((await slipway(['apps:destroy', 'empty-app', '--confirm', 'empty-app'])).exitCode).toBe(0);
});

test('a container that does not boot fails the scale or restart: nothing changes, no request fails', async () => {
  const before = await appContainers(NAME);
  const load = steadyLoad({ routerPort: server.routerPort, app: NAME, clients: 2, maxRequests: 100_000 });
  // New containers get the new environment: with CRASH set, they exit before booting.
  await server.api('PATCH', `/api/apps/${NAME}/env`, { CRASH: '1' });
  const scaled = await slipway(['scale', 'web=3', '-a', NAME]);
  expect([scaled.exitCode, scaled.stderr]).toEqual([1, expect.stringContaining('slipway: web-3 exited with code 3 before it booted.\n')]);
  expect(scaled.stderr).toContain('crashing as asked');
  const restarted = await slipway(['restart', 'web', '-a', NAME]);
  expect([restarted.exitCode, restarted.stderr]).toEqual([1, expect.stringContaining('slipway: web-1 exited with code 3 before it booted.\n')]);
  await server.api('PATCH', `/api/apps/${NAME}/env`, { CRASH: null });
  const tally = await load.stop();
  expect(tally.failures).toEqual([]);
  expect(tally.ok).toBeGreaterThan(10);
  expect(await appContainers(NAME)).toEqual(before);
  expect((await ps()).map((c) => c.name)).toEqual(['web-1', 'web-2', 'worker-1']);
});

test('env:set --restart applies the variable at once, rolling, without a failed request', async () => {
  const load = steadyLoad({ routerPort: server.routerPort, app: NAME, clients: 4, maxRequests: 100_000, path: '/greeting.txt' });
  const before = await appContainers(NAME);
  const result = await slipway(['env:set', 'GREETING=bonjour', '--restart', '-a', NAME]);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe('Set GREETING on shape-app; the containers restarted with them (web-1, web-2, worker-1).\n');
  expect(result.stderr).toContain('-----> Restarting web-1');
  const tally = await load.stop();
  expect(tally.failures).toEqual([]);
  expect(tally.servedBy.get('bonjour')).toBeGreaterThan(0);
  // Fresh containers, same deployment, same names to the app.
  const after = await ps();
  expect(after.map((c) => `${c.name}@${c.deployment}`)).toEqual(['web-1@3', 'web-2@3', 'worker-1@3']);
  expect(after.every((c) => !before.includes(c.container))).toBe(true);
  for (let i = 0; i < 6; i++) expect(await getApp(server.routerPort, NAME, '/greeting.txt')).toEqual({ status: 200, body: 'bonjour\n' });
  expect(await answering()).toEqual(new Set(['web-1', 'web-2']));

  const json = await slipway(['env:unset', 'GREETING', '--restart', '-a', NAME, '--json']);
  expect(JSON.parse(json.stdout as string)).toEqual({ variables: [], restarted: ['web-1', 'web-2', 'worker-1'] });
});

test('restart TYPE replaces only that type; restart replaces all', async () => {
  const before = await ps();
  const worker = await slipway(['restart', 'worker', '-a', NAME, '--json']);
  expect(JSON.parse(worker.stdout as string)).toEqual({ restarted: ['worker-1'] });
  const after = await ps();
  expect(after.filter((c) => c.type === 'web').map((c) => c.container)).toEqual(before.filter((c) => c.type === 'web').map((c) => c.container));
  expect(after.find((c) => c.type === 'worker')!.container).not.toBe(before.find((c) => c.type === 'worker')!.container);
  expect((await slipway(['restart', '-a', NAME])).stdout).toBe('Restarted web-1, web-2, worker-1.\n');
});

test('rollback deploys an earlier image through the pipeline, hook included, without rebuilding', async () => {
  const result = await slipway(['rollback', '-a', NAME]);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toBe(`Rolled shape-app back to the image of deployment 2 (commit ${commits[1]!.slice(0, 7)}): deployment 4.\n`);
  expect(result.stderr).toContain('-----> Rolling shape-app back: deployment 4 runs the image of deployment 2');
  expect(result.stderr).not.toContain('Building image');
  expect(result.stderr).toContain(`recorded ${commits[1]}`);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${commits[1]}\n` });
  // The hook ran again, on the same volume.
  expect((await getApp(server.routerPort, NAME, '/data/releases.txt')).body).toBe(`${commits.slice(0, 3).join('\n')}\n${commits[1]}\n`);
  // The branch names what serves; the formation is kept.
  const { stdout: remoteRef } = await execa('git', ['ls-remote', server.remote(NAME), 'refs/heads/main']);
  expect(remoteRef.split('\t')[0]).toBe(commits[1]);
  expect((await ps()).map((c) => `${c.name}@${c.deployment}`)).toEqual(['web-1@4', 'web-2@4', 'worker-1@4']);
  const listed = JSON.parse((await slipway(['deployments', '-a', NAME, '--json'])).stdout as string) as {
    id: number;
    rollbackOf: number | null;
    image: string;
  }[];
  expect(listed[0]).toMatchObject({ id: 4, rollbackOf: 2, image: `slipway/${NAME}:2` });
  const info = await slipway(['deployments:info', '4', '-a', NAME]);
  expect(info.stdout).toMatch(/\nRollback by admin, \d+s ago\nImage {7}of deployment 2 \(not rebuilt\)\n/);
  expect(info.stdout).toMatch(/\nbuild\s+[\d.]+s\nstart\s+[\d.]+s\nboot\s+[\d.]+s\npostdeploy\s+[\d.]+s\nswitch/);

  // A failing hook fails the rollback; deployment 4 keeps serving.
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: '1' });
  const failed = await slipway(['rollback', '3', '-a', NAME, '--json']);
  expect([failed.exitCode, failed.stdout]).toEqual([1, '']);
  expect(failed.stderr).toContain('slipway: Rollback deployment 5 ended hook-error; deployment 4 keeps serving.\n');
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${commits[1]}\n` });
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: null });

  // Pushing the newest commit again deploys it: the branch had moved back.
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).toBe(0);
  expect(pushed.remote.some((line) => line.startsWith('-----> Deployment 6 succeeded'))).toBe(true);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${commits[2]}\n` });

  const ok = await slipway(['rollback', '3', '-a', NAME, '--json']);
  expect(JSON.parse(ok.stdout as string)).toMatchObject({ id: 7, status: 'success', rollbackOf: 3, commit: commits[2] });
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${commits[2]}\n` });
});

test('rollback refuses what it cannot do, in one sentence each', async () => {
  const cases: [string[], number, string][] = [
    [['rollback', '99'], 1, 'shape-app has no deployment 99; list them with slipway deployments.'],
    [['rollback', '5'], 1, 'Deployment 5 ended hook-error and never served; roll back to a successful one (slipway deployments).'],
    [['rollback', '7'], 1, 'Deployment 7 is the one serving shape-app already; roll back to an earlier one.'],
    [['rollback', 'x'], 2, 'Give the deployment number to roll back to, as listed by slipway deployments: e.g. slipway rollback 7.'],
    [['rollback', '-a', 'nope'], 1, 'There is no app named "nope"; push to create it.'],
  ];
  for (const [args, code, message] of cases) {
    const result = await slipway(args.includes('-a') ? args : [...args, '-a', NAME]);
    expect([args.join(' '), result.exitCode, result.stderr]).toEqual([args.join(' '), code, `slipway: ${message}\n`]);
  }
});

test('a deployment made before Procfiles were kept rolls back with the Procfile of its commit', async () => {
  // As a database from an earlier Slipway has it: no Procfile recorded with deployment 2.
  const db = new Database(path.join(server.dataDir, 'slipway.db'));
  try {
    db.prepare('UPDATE deployments SET procfile = NULL WHERE app = ? AND id = 2').run(NAME);
  } finally {
    db.close();
  }
  const result = await slipway(['rollback', '2', '-a', NAME, '--json']);
  expect(JSON.parse(result.stdout as string)).toMatchObject({ id: 8, status: 'success', rollbackOf: 2, commit: commits[1] });
  expect(result.stderr).toContain('Procfile: web, worker, postdeploy');
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${commits[1]}\n` });
});

test('storage:unmount keeps the files; apps:destroy removes them', async () => {
  const [mount] = JSON.parse((await slipway(['storage', '-a', NAME, '--json'])).stdout as string) as { hostPath: string }[];
  const mountedJson = await slipway(['storage:mount', '/srv/cache', '-a', NAME, '--json']);
  expect((JSON.parse(mountedJson.stdout as string) as { path: string }[]).map((m) => m.path)).toEqual(['/data', '/srv/cache']);
  const unmountedJson = await slipway(['storage:unmount', '/srv/cache', '-a', NAME, '--json']);
  expect((JSON.parse(unmountedJson.stdout as string) as { path: string }[]).map((m) => m.path)).toEqual(['/data']);
  const unmounted = await slipway(['storage:unmount', '/data', '-a', NAME]);
  expect(unmounted.stdout).toContain('Unmounted /data from shape-app (its files are kept');
  expect((await slipway(['storage', '-a', NAME])).stdout).toBe(`${NAME} has no storage: slipway storage:mount /data -a ${NAME}\n`);
  expect(existsSync(path.join(mount!.hostPath, 'releases.txt'))).toBe(true);
  const again = await slipway(['storage:unmount', '/data', '-a', NAME]);
  expect([again.exitCode, again.stderr]).toEqual([1, 'slipway: shape-app has no storage mounted at "/data"; list its mounts with slipway storage.\n']);
  expect((await slipway(['apps:destroy', NAME, '--confirm', NAME])).exitCode).toBe(0);
  expect(existsSync(mount!.hostPath)).toBe(false);
  expect(await appContainers(NAME)).toEqual([]);
});
