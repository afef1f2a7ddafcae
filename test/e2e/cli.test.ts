import Docker from 'dockerode';
import { execa } from 'execa';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { appContainers, imageExists } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp, startGate } from '../support/http.js';
import { CLI, cliEnv, ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const suite = new ServerSuite(['cli-app']);
let server: TestServer;
let home: string;
let slipway: CliRunner;
let app: TestApp;

beforeAll(async () => {
  ({ server, home, slipway } = await suite.start());
  app = suite.app(busyboxApp({ web: WEB, postdeploy: 'echo migrated' }));
  await app.commit('cli');
}, 60_000);

afterAll(() => suite.stop(), 60_000);

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
}, 60_000);

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

  expect((await slipway(['releases', '--json'], { cwd: app.dir })).stdout).toBe((await slipway(['deployments', '--json'], { cwd: app.dir })).stdout);
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
  expect((await slipway(['env:get', 'GREETING', '-a', 'cli-app'])).stdout).toBe('hello world\n');
  // Heroku's and Dokku's names answer too.
  expect((await slipway(['config:set', 'ALIAS=yes', '-a', 'cli-app'])).exitCode).toBe(0);
  expect((await slipway(['config:get', 'ALIAS', '-a', 'cli-app'])).stdout).toBe('yes\n');
  expect((await slipway(['config:unset', 'ALIAS', '-a', 'cli-app'])).exitCode).toBe(0);
  expect(JSON.parse((await slipway(['config', '-a', 'cli-app', '--json'])).stdout)).toEqual({
    GREETING: '******** (slipway env --reveal)',
    MODE: '******** (slipway env --reveal)',
  });
  expect((await slipway(['help'])).stdout).toMatch(/\n {2}env:set +set variables;.*\(also config:set\)\n/);
  const notSet = await slipway(['env:get', 'NOPE', '-a', 'cli-app']);
  expect([notSet.exitCode, notSet.stderr]).toEqual([1, 'slipway: NOPE is not set on cli-app; set it with slipway env:set NOPE=VALUE -a cli-app.\n']);
  expect((await slipway(['env:set', `QUOTE=it's $HOME`, '-a', 'cli-app'])).exitCode).toBe(0);
  const shell = (await slipway(['env', '--shell', '-a', 'cli-app'])).stdout;
  expect(shell).toBe(`GREETING='hello world'\nMODE=prod\nQUOTE='it'\\''s $HOME'\n`);
  // What --shell prints, a shell takes back as the same values.
  const evaluated = await execa('sh', ['-c', 'eval "$(cat)"; printf "%s|%s|%s" "$GREETING" "$MODE" "$QUOTE"'], { input: shell });
  expect(evaluated.stdout).toBe("hello world|prod|it's $HOME");
  expect((await slipway(['env:unset', 'QUOTE', '-a', 'cli-app'])).exitCode).toBe(0);
  expect((await slipway(['env:unset', 'MODE', '-a', 'cli-app'])).exitCode).toBe(0);
  expect(JSON.parse((await slipway(['env', '-a', 'cli-app', '--reveal', '--json'])).stdout)).toEqual({ GREETING: 'hello world' });

  const malformed = await slipway(['env:set', 'NOEQUALS', '-a', 'cli-app']);
  expect(malformed.exitCode).toBe(2);
  expect(malformed.stderr).toBe('slipway: "NOEQUALS" is not KEY=VALUE; write it as e.g. DATABASE_URL=postgres://…\n');
  const reserved = await slipway(['env:set', 'PORT=80', '-a', 'cli-app']);
  expect(reserved.exitCode).toBe(1);
  expect(reserved.stderr).toBe('slipway: PORT is set by Slipway in every container and cannot be changed; choose another name.\n');
}, 120_000);

test('domains: add, list, remove, with the router following at once; bad or taken domains get one sentence', async () => {
  const added = await slipway(['domains:add', 'WWW.Example.TEST.', '-a', 'cli-app']);
  expect([added.exitCode, added.stdout]).toEqual([0, 'Requests for www.example.test now reach cli-app, from the next one on.\n']);
  expect((await getApp(server.routerPort, 'cli-app', '/', 'www.example.test')).status).toBe(200);
  expect((await slipway(['domains', '-a', 'cli-app'])).stdout).toMatch(/^DOMAIN\s+ADDED\nwww\.example\.test\s+\d+s ago\n$/);
  expect(JSON.parse((await slipway(['domains', '-a', 'cli-app', '--json'])).stdout)).toEqual([{ domain: 'www.example.test', createdAt: expect.any(String) }]);

  const again = await slipway(['domains:add', 'www.example.test', '-a', 'cli-app']);
  expect([again.exitCode, again.stderr]).toEqual([1, 'slipway: www.example.test already routes to this app; remove it there first.\n']);
  const invalid = await slipway(['domains:add', 'not a domain', '-a', 'cli-app']);
  expect([invalid.exitCode, invalid.stderr]).toEqual([
    1,
    'slipway: "not a domain" is not a valid domain; send a host name such as {"domain": "www.example.com"}.\n',
  ]);
  const missing = await slipway(['domains:add', '-a', 'cli-app']);
  expect([missing.exitCode, missing.stderr]).toEqual([2, 'slipway: Give the domain to add: e.g. slipway domains:add www.example.com.\n']);

  const removed = await slipway(['domains:remove', 'www.example.test.', '-a', 'cli-app']);
  expect([removed.exitCode, removed.stdout]).toEqual([0, 'Requests for www.example.test no longer reach cli-app.\n']);
  expect((await getApp(server.routerPort, 'cli-app', '/', 'www.example.test')).status).toBe(404);
  expect((await slipway(['domains', '-a', 'cli-app'])).stdout).toBe('cli-app has no custom domains: slipway domains:add www.example.com -a cli-app\n');
  const gone = await slipway(['domains:remove', 'www.example.test', '-a', 'cli-app']);
  expect([gone.exitCode, gone.stderr]).toEqual([1, 'slipway: cli-app has no domain www.example.test; list them with GET /api/apps/cli-app/domains.\n']);
}, 60_000);

test('settings: set, shown, applied to the containers of the next restart, unset; bad values get one sentence', async () => {
  const set = await slipway(['settings:set', 'memory=64', 'cpus=0.5', 'hookTimeout=600', '-a', 'cli-app']);
  expect(set.stdout).toBe(
    'Changed memory, cpus, hookTimeout of cli-app; containers started from now on get the new limits (slipway restart, or deploy); timeouts count from the next deploy, scale or restart.\n',
  );
  const shown = (await slipway(['settings', '-a', 'cli-app'])).stdout;
  expect(shown).toMatch(/memory\s+64 MiB per container\n/);
  expect(shown).toMatch(/cpus\s+0\.5 cores per container\n/);
  expect(shown).toMatch(/hookTimeout\s+600 s\n/);
  expect(shown).toMatch(/bootTimeout\s+default\n/);
  expect(JSON.parse((await slipway(['settings', '-a', 'cli-app', '--json'])).stdout)).toEqual({
    bootTimeout: null,
    hookTimeout: 600,
    stopTimeout: null,
    memory: 64,
    cpus: 0.5,
    healthcheckTimeout: null,
    healthcheckInterval: null,
    healthcheckPath: null,
    forceHttps: false,
    hsts: false,
  });

  expect((await slipway(['restart', '-a', 'cli-app'])).exitCode).toBe(0);
  const docker = new Docker();
  const [web] = await docker.listContainers({ filters: { label: ['slipway.app=cli-app', 'slipway.type=web'] } });
  const limits = (await docker.getContainer(web!.Id).inspect()).HostConfig;
  expect([limits.Memory, limits.NanoCpus]).toEqual([64 * 1024 * 1024, 500_000_000]);

  expect((await slipway(['settings:unset', 'memory', 'cpus', '-a', 'cli-app'])).stdout).toBe(
    'Reset memory, cpus of cli-app to the default; containers started from now on get the new limits (slipway restart, or deploy); timeouts count from the next deploy, scale or restart.\n',
  );
  expect(JSON.parse((await slipway(['settings', '-a', 'cli-app', '--json'])).stdout)).toMatchObject({ memory: null, cpus: null, hookTimeout: 600 });

  const small = await slipway(['settings:set', 'memory=8', '-a', 'cli-app']);
  expect([small.exitCode, small.stderr]).toEqual([
    1,
    'slipway: Memory must be a whole number of MiB from 16 to 1048576 for each container, or null for no limit.\n',
  ]);
  const unknown = await slipway(['settings:set', 'disk=5', '-a', 'cli-app']);
  expect([unknown.exitCode, unknown.stderr]).toEqual([
    1,
    'slipway: Unknown setting "disk"; the settings are bootTimeout, hookTimeout, stopTimeout, memory, cpus, healthcheckTimeout, healthcheckInterval, healthcheckPath, forceHttps, hsts.\n',
  ]);
  const word = await slipway(['settings:set', 'memory=lots', '-a', 'cli-app']);
  expect([word.exitCode, word.stderr]).toEqual([2, 'slipway: "memory=lots" is not SETTING=NUMBER; write it as e.g. memory=512 or hookTimeout=600\n']);
}, 60_000);

test('maintenance: on shows visitors a 503 page (kept when the server is killed and starts again), off serves them again', async () => {
  expect((await getApp(server.routerPort, 'cli-app')).status).toBe(200);
  const on = await slipway(['maintenance:on', '-a', 'cli-app']);
  expect([on.exitCode, on.stdout]).toEqual([
    0,
    'cli-app is in maintenance: visitors get a 503 maintenance page, its containers keep running (slipway maintenance:off to end it).\n',
  ]);
  const page = await getApp(server.routerPort, 'cli-app');
  expect(page.status).toBe(503);
  expect(page.body).toContain('cli-app is down for maintenance and will be back shortly.');
  expect(JSON.parse((await slipway(['maintenance', '-a', 'cli-app', '--json'])).stdout)).toEqual({ enabled: true });
  expect((await slipway(['apps:info', '-a', 'cli-app'])).stdout).toContain('Maintenance  on (visitors get the maintenance page)\n');

  await server.crash();
  await server.restart();
  expect((await getApp(server.routerPort, 'cli-app')).status).toBe(503);

  const off = await slipway(['maintenance:off', '-a', 'cli-app']);
  expect([off.exitCode, off.stdout]).toEqual([0, 'cli-app serves its visitors again.\n']);
  expect((await getApp(server.routerPort, 'cli-app')).status).toBe(200);
  expect((await slipway(['maintenance', '-a', 'cli-app'])).stdout).toBe('cli-app is not in maintenance: visitors reach the app.\n');
  expect(await server.api('PUT', '/api/apps/cli-app/maintenance', { enabled: 'yes' })).toEqual({
    status: 400,
    body: { error: 'invalid_maintenance', message: 'send {"enabled": true} to show visitors the maintenance page, {"enabled": false} to serve them again' },
  });
}, 60_000);

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
}, 60_000);

test('login saves the connection (0600) after checking it; a bad token is not saved', async () => {
  const bad = await slipway(['login', '--url', server.url, '--token', 'wrong'], { token: null });
  expect(bad.exitCode).toBe(1);
  const good = await slipway(['login', '--url', server.url, '--token', server.token], { token: null });
  expect(good.exitCode).toBe(0);
  const file = path.join(home, '.config/slipway/config.yml');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const after = await slipway(['apps', '--json'], { token: null });
  expect(after.exitCode).toBe(0);
}, 60_000);

test('tokens: create (shown once), list, revoke', async () => {
  const created = JSON.parse((await slipway(['tokens:create', 'deployer', '--json'])).stdout) as { token: string };
  expect(created.token).toMatch(/^slw_/);
  expect(JSON.parse((await slipway(['tokens', '--json'])).stdout)).toEqual([{ name: 'deployer', createdAt: expect.any(String) }]);
  expect((await slipway(['apps'], { token: created.token })).exitCode).toBe(0);
  expect((await slipway(['tokens'], { token: created.token })).stderr).toBe('slipway: Only the admin token can manage tokens.\n');
  expect((await slipway(['tokens:revoke', 'deployer'])).stdout).toBe('Revoked deployer.\n');
  expect((await slipway(['apps'], { token: created.token })).exitCode).toBe(1);
}, 60_000);

test('deployments:logs --follow streams a running deployment from a second terminal, live, to its end', async () => {
  const gate = await startGate();
  try {
    await app.commit('followed', {
      Procfile: `web: ${WEB}\npostdeploy: echo "hook is waiting"; wget -q -O /dev/null http://127.0.0.1:${gate.port}/; echo "hook is done"\n`,
    });
    let started!: () => void;
    const hookStarted = new Promise<void>((resolve) => (started = resolve));
    const push = app.push(server.remote('cli-app'), 'main', { onRemoteLine: (line) => line === 'hook is waiting' && started() });
    await hookStarted;

    const follower = execa(process.execPath, [CLI, 'deployments:logs', '2', '--follow', '-a', 'cli-app'], {
      env: cliEnv(server, home),
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
  expect(refused.stderr).toBe(
    "slipway: This deletes cli-app's containers, images, storage, repository and records for good; run again with --confirm cli-app.\n",
  );
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
