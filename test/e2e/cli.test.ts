import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestApp } from '../support/app.js';
import { cliRunner } from '../support/cli.js';
import { appContainers, imageExists, removeApp } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp, startGate } from '../support/http.js';
import { CLI, startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let home: string;
let slipway: ReturnType<typeof cliRunner>;
let app: TestApp;

beforeAll(async () => {
  server = await startServer();
  home = mkdtempSync(path.join(os.tmpdir(), 'slipway-home-'));
  slipway = cliRunner(server, home);
  app = new TestApp(busyboxApp({ web: WEB, postdeploy: 'echo migrated' }));
  await app.commit('cli');
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await removeApp('cli-app');
  app?.remove();
  rmSync(home, { recursive: true, force: true });
});


test('apps:create, apps, apps:info, in words and in JSON', async () => {
  const created = await slipway(['apps:create', 'cli-app']);
  expect(created.exitCode).toBe(0);
  expect(created.stdout).toContain('Created cli-app: http://cli-app.localhost:');
  const list = await slipway(['apps']);
  expect(list.stdout).toMatch(/^NAME\s+DEPLOYMENT\s+URL\s+CREATED\ncli-app\s+-\s+http:\/\/cli-app\.localhost:\d+\s+\d+s ago\n$/);
  expect(list.stdout).not.toContain('\u001b[');
  const json = JSON.parse((await slipway(['apps', '--json'])).stdout) as { name: string }[];
  expect(json.map((a) => a.name)).toEqual(['cli-app']);
  const info = JSON.parse((await slipway(['apps:info', '-a', 'cli-app', '--json'])).stdout) as { name: string; settings: object };
  expect(info).toMatchObject({ name: 'cli-app', currentDeployment: null, settings: { bootTimeout: null } });
});

test('git:remote adds a deploy remote that pushes; the app then comes from that remote', async () => {
  const added = await slipway(['git:remote', '-a', 'cli-app'], { cwd: app.dir });
  expect(added.exitCode).toBe(0);
  const pushed = await execa('git', ['push', 'deploy', 'main'], { cwd: app.dir, reject: false, env: { GIT_TERMINAL_PROMPT: '0' } });
  expect(pushed.exitCode).toBe(0);

  const deployments = await slipway(['deployments'], { cwd: app.dir });
  expect(deployments.stdout).toMatch(/^ID\s+STATUS\s+COMMIT\s+BY\s+STARTED\s+DURATION\n1\s+success\s+[0-9a-f]{7}\s+admin\s+\d+s ago\s+[\d.]+s\n$/);
  const info = JSON.parse((await slipway(['deployments:info', '1', '--json'], { cwd: app.dir })).stdout) as { phases: { phase: string }[] };
  expect(info.phases.map((p) => p.phase)).toEqual(['build', 'start', 'boot', 'postdeploy', 'switch', 'retire']);
  const words = await slipway(['deployments:info', '1'], { cwd: app.dir });
  expect(words.stdout).toContain('Deployment 1 of cli-app: success');
  expect(words.stdout).toMatch(/postdeploy\s+[\d.]+s/);
  const logs = await slipway(['deployments:logs', '1'], { cwd: app.dir });
  expect(logs.stdout).toContain('-----> Running postdeploy: echo migrated');
  expect(logs.stdout).toContain('migrated');

  const ps = JSON.parse((await slipway(['ps', '--json'], { cwd: app.dir })).stdout) as { name: string; state: string; deployment: number }[];
  expect(ps).toEqual([expect.objectContaining({ name: 'web-1', state: 'running', deployment: 1 })]);
  expect((await slipway(['ps'], { cwd: app.dir })).stdout).toMatch(/web-1\s+running/);
}, 60_000);

test('env: set, hidden unless revealed, unset; bad input gets one sentence and a non-zero exit', async () => {
  expect((await slipway(['env:set', 'GREETING=hello world', 'MODE=prod', '-a', 'cli-app'])).stdout).toBe(
    'Set GREETING, MODE on cli-app; they apply at the next deploy or slipway restart.\n',
  );
  const hidden = await slipway(['env', '-a', 'cli-app']);
  expect(hidden.stdout).not.toContain('hello world');
  expect(hidden.stdout).toContain('GREETING');
  expect(JSON.parse((await slipway(['env', '-a', 'cli-app', '--reveal', '--json'])).stdout)).toEqual({ GREETING: 'hello world', MODE: 'prod' });
  expect((await slipway(['env:unset', 'MODE', '-a', 'cli-app'])).exitCode).toBe(0);
  expect(JSON.parse((await slipway(['env', '-a', 'cli-app', '--reveal', '--json'])).stdout)).toEqual({ GREETING: 'hello world' });

  const malformed = await slipway(['env:set', 'NOEQUALS', '-a', 'cli-app']);
  expect(malformed.exitCode).toBe(2);
  expect(malformed.stderr).toBe('slipway: "NOEQUALS" is not KEY=VALUE; write it as e.g. DATABASE_URL=postgres://…\n');
  const reserved = await slipway(['env:set', 'PORT=80', '-a', 'cli-app']);
  expect(reserved.exitCode).toBe(1);
  expect(reserved.stderr).toBe('slipway: PORT is set by Slipway in every container and cannot be changed; choose another name.\n');
});

test('errors: unknown app, bad token, no app, unknown command or option; --help shows an example', async () => {
  const unknown = await slipway(['deployments', '-a', 'nope']);
  expect([unknown.exitCode, unknown.stderr]).toEqual([1, 'slipway: There is no app named "nope"; push to create it.\n']);
  const badToken = await slipway(['apps'], { token: 'wrong' });
  expect(badToken.exitCode).toBe(1);
  expect(badToken.stderr).toContain('The token was refused');
  const noApp = await slipway(['ps']);
  expect(noApp.exitCode).toBe(1);
  expect(noApp.stderr).toContain('No app given: pass -a <app>');
  const noCommand = await slipway(['deploy']);
  expect(noCommand.exitCode).toBe(2);
  const badOption = await slipway(['apps', '--colour']);
  expect(badOption.exitCode).toBe(2);
  expect(badOption.stderr).toContain("Unknown option '--colour'");
  const help = await slipway(['env:set', '--help']);
  expect(help.stdout).toContain('Usage: slipway env:set KEY=VALUE... [-a APP]');
  expect(help.stdout).toContain('Example:\n  slipway env:set DATABASE_URL=');
});

test('login saves the connection (0600) after checking it; a bad token is not saved', async () => {
  const bad = await slipway(['login', '--url', server.url, '--token', 'wrong'], { token: null });
  expect(bad.exitCode).toBe(1);
  const good = await slipway(['login', '--url', server.url, '--token', server.token], { token: null });
  expect(good.exitCode).toBe(0);
  const file = path.join(home, '.config/slipway/config.yml');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const after = await slipway(['apps', '--json'], { token: null });
  expect(after.exitCode).toBe(0);
});

test('tokens: create (shown once), list, revoke', async () => {
  const created = JSON.parse((await slipway(['tokens:create', 'deployer', '--json'])).stdout) as { token: string };
  expect(created.token).toMatch(/^slw_/);
  expect(JSON.parse((await slipway(['tokens', '--json'])).stdout)).toEqual([{ name: 'deployer', createdAt: expect.any(String) }]);
  expect((await slipway(['apps'], { token: created.token })).exitCode).toBe(0);
  expect((await slipway(['tokens'], { token: created.token })).stderr).toBe('slipway: Only the admin token can manage tokens.\n');
  expect((await slipway(['tokens:revoke', 'deployer'])).stdout).toBe('Revoked deployer.\n');
  expect((await slipway(['apps'], { token: created.token })).exitCode).toBe(1);
});

test('deployments:logs --follow streams a running deployment from a second terminal, live, to its end', async () => {
  const gate = await startGate();
  try {
    await app.commit('followed', { Procfile: `web: ${WEB}\npostdeploy: echo "hook is waiting"; wget -q -O /dev/null http://127.0.0.1:${gate.port}/; echo "hook is done"\n` });
    let started!: () => void;
    const hookStarted = new Promise<void>((resolve) => (started = resolve));
    const push = app.push(server.remote('cli-app'), 'main', { onRemoteLine: (line) => line === 'hook is waiting' && started() });
    await hookStarted;

    const follower = execa(process.execPath, [CLI, 'deployments:logs', '2', '--follow', '-a', 'cli-app'], {
      env: { HOME: home, PATH: process.env.PATH ?? '', SLIPWAY_URL: server.url, SLIPWAY_TOKEN: server.token },
      extendEnv: false,
      reject: false,
    });
    // The follower shows what happened before it arrived, while the hook is still blocked.
    let seen = '';
    await new Promise<void>((resolve) => {
      follower.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('hook is waiting')) resolve();
      });
    });
    expect(seen).toContain('-----> Deploying cli-app: deployment 2');
    gate.release();

    const [pushed, followed] = await Promise.all([push, follower]);
    expect(pushed.exitCode).toBe(0);
    expect(followed.exitCode).toBe(0);
    expect(followed.stdout).toContain('hook is done');
    expect(followed.stdout.trimEnd().split('\n').at(-1)).toMatch(/^-----> Deployment 2 succeeded in/);
  } finally {
    gate.close();
  }
}, 60_000);

test('apps:destroy refuses without the exact confirmation, then removes containers, images, repository and records', async () => {
  const refused = await slipway(['apps:destroy', 'cli-app']);
  expect(refused.exitCode).toBe(2);
  expect(refused.stderr).toBe("slipway: This deletes cli-app's containers, images, storage, repository and records for good; run again with --confirm cli-app.\n");
  expect((await slipway(['apps:destroy', 'cli-app', '--confirm', 'cli-ap'])).exitCode).toBe(2);
  expect((await appContainers('cli-app')).length).toBeGreaterThan(0);

  const destroyed = await slipway(['apps:destroy', 'cli-app', '--confirm', 'cli-app']);
  expect(destroyed.exitCode).toBe(0);
  expect(destroyed.stdout).toMatch(/^Destroyed cli-app: 1 container\(s\) and \d+ image\(s\) removed, with its storage, repository and records\.\n$/);
  expect(await appContainers('cli-app')).toEqual([]);
  expect(await imageExists('slipway/cli-app:2')).toBe(false);
  expect(existsSync(path.join(server.dataDir, 'repos', 'cli-app.git'))).toBe(false);
  expect(JSON.parse((await slipway(['apps', '--json'])).stdout)).toEqual([]);
  expect((await getApp(server.routerPort, 'cli-app')).status).toBe(404);
  expect((await slipway(['deployments', '-a', 'cli-app'])).stderr).toBe('slipway: There is no app named "cli-app"; push to create it.\n');
}, 60_000);
