import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { execa } from 'execa';
import type { PushResult, TestApp } from '../support/app.js';
import { appContainers } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp, startGate, type Gate } from '../support/http.js';
import { ServerSuite, startServer, type CliRunner, type TestServer } from '../support/server.js';

/**
 * Issue 20: what must hold at the switch, under concurrent pushes and operations, and when the
 * server stops. Each test overlaps two things on purpose, ordered by gates (a hook or a boot that
 * waits until the test lets it go), never by timing.
 */

jest.setTimeout(180_000);

const docker = new Docker();
const suite = new ServerSuite();
let server: TestServer;
let slipway: CliRunner;
const gates: Gate[] = [];

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
}, 60_000);

afterAll(async () => {
  await suite.stop();
  for (const gate of gates) gate.close();
}, 60_000);

/** A working copy for the app `name` (on any of this file's servers), whose containers and images the suite removes at the end. */
function newApp(name: string, files: Record<string, string>): TestApp {
  suite.owns(name);
  return suite.app(files);
}

async function gate(): Promise<Gate> {
  const g = await startGate();
  gates.push(g);
  return g;
}

/** A hook that waits for the gate. */
function waitFor(g: Gate): string {
  return `echo "hook waits"; wget -q -O /dev/null http://127.0.0.1:${g.port}/`;
}

/**
 * Resolves once `check` holds, polled. The bound only stops the loop once its test has failed
 * on its own timeout (a loop left running would keep jest from exiting); it is no assertion.
 */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    if (i > 4000) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Pushing {
  lines: string[];
  result: Promise<PushResult>;
}

function pushing(app: TestApp, s: TestServer, name: string, args: string[] = [], refspec = 'main'): Pushing {
  const lines: string[] = [];
  return { lines, result: app.push(s.remote(name), refspec, { args, onRemoteLine: (line) => lines.push(line) }) };
}

async function serverBranch(s: TestServer, name: string, branch = 'main'): Promise<string> {
  const { stdout } = await execa('git', ['ls-remote', s.remote(name), `refs/heads/${branch}`]);
  return stdout.split('\t')[0] ?? '';
}

interface DeploymentJson {
  id: number;
  status: string;
  commit: string;
  image: string | null;
  rollbackOf: number | null;
}

test('a web container that dies during the hook fails the deployment (crashed-error) and the old one keeps serving', async () => {
  const app = newApp('dies-app', busyboxApp({ web: WEB }));
  const good = await app.commit('good');
  expect((await app.push(server.remote('dies-app'))).exitCode).toBe(0);

  // The issue's reproduction: it serves, boots, then exits while the hook runs (Docker restarts it).
  await app.commit('dies', busyboxApp({ web: 'sh -c "httpd -p 127.0.0.1:$PORT -h /app; echo going away; sleep 2; exit 1"', postdeploy: 'sleep 5' }));
  const result = await app.push(server.remote('dies-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('[remote rejected] main -> main (crashed-error)');
  expect(result.remote.join('\n')).toMatch(/web-1 exited .*while the postdeploy hook ran \(restarted \d+ times?/);
  expect(result.remote).toContain('going away');
  expect(await getApp(server.routerPort, 'dies-app', '/version.txt')).toEqual({ status: 200, body: `${good}\n` });
  expect(await appContainers('dies-app')).toEqual(['slipway-dies-app-1-web-1']);
  expect(await serverBranch(server, 'dies-app')).toBe(good);
});

test('processes restart on their own from their creation', async () => {
  const list = await docker.listContainers({ all: true, filters: { label: ['slipway.app=dies-app'] } });
  const info = await docker.getContainer(list[0]!.Id).inspect();
  expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
});

test('a push whose branch moved while it waited is rejected (fetch first), and a forced one says it rewinds', async () => {
  const g = await gate();
  const first = newApp('cas-app', busyboxApp({ web: WEB }));
  const tip = await first.commit('tip');
  expect((await first.push(server.remote('cas-app'))).exitCode).toBe(0);
  // Two clones of the same tip.
  const second = newApp('cas-app', {});
  await execa('git', ['clone', '-q', first.dir, second.dir]);
  const a = await first.commit('change A', { Procfile: `web: ${WEB}\npostdeploy: ${waitFor(g)}\n` });
  const b = await second.commit('change B', { 'index.html': 'B\n' });

  const pushA = pushing(first, server, 'cas-app');
  await until(() => pushA.lines.includes('hook waits'));
  const pushB = pushing(second, server, 'cas-app');
  await until(() => pushB.lines.some((l) => l.includes('is queued behind deployment 2')));
  g.release();
  const [resultA, resultB] = await Promise.all([pushA.result, pushB.result]);
  expect(resultA.exitCode).toBe(0);
  expect(resultB.exitCode).not.toBe(0);
  // git itself renders the reason as it does a non-fast-forward, with its hints.
  expect(resultB.output).toContain('! [rejected]        main -> main (fetch first)');
  expect(resultB.output).toContain('hint: Updates were rejected because the remote contains work that you do');
  expect(resultB.remote.join('\n')).toContain(
    `main is at ${a.slice(0, 7)}, not at ${tip.slice(0, 7)} as when this push started: another push moved it meanwhile`,
  );
  // Nothing of B was built or deployed; A serves and the branch names it.
  const list = (await server.api<DeploymentJson[]>('GET', '/api/apps/cas-app/deployments')).body;
  expect(list[0]).toMatchObject({ id: 3, status: 'aborted', commit: b, image: null });
  expect(resultB.remote.some((l) => l.includes('Building'))).toBe(false);
  expect(await serverBranch(server, 'cas-app')).toBe(a);
  expect(await getApp(server.routerPort, 'cas-app', '/version.txt')).toEqual({ status: 200, body: `${a}\n` });

  // Forced, B deploys, and the output says A leaves the branch.
  const forced = await second.push(server.remote('cas-app'), 'main', { args: ['--force'] });
  expect(forced.exitCode).toBe(0);
  expect(forced.remote.join('\n')).toContain(`Rewinding main from ${a.slice(0, 7)} to ${b.slice(0, 7)}`);
  expect(await serverBranch(server, 'cas-app')).toBe(b);
});

test('main and master pushed together: main deploys, master is refused in one sentence, main names what serves', async () => {
  const app = newApp('both-app', busyboxApp({ web: WEB }));
  const sha = await app.commit('one');
  await app.git('branch', 'master');
  const both = await execa('git', ['push', server.remote('both-app'), 'main', 'master'], { cwd: app.dir, reject: false });
  const result = { exitCode: both.exitCode, output: both.stderr, remote: both.stderr.split('\n').map((l) => l.replace(/^remote:\s*/, '').trimEnd()) };
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toMatch(/\* \[new branch\]\s+main -> main/);
  expect(result.output).toContain('[remote rejected] master -> master (one deploy branch per push; main was deployed)');
  expect(result.remote).toContain('!     master is not deployed: push one deploy branch at a time (main was pushed with it, and both-app deploys from main).');
  expect(await serverBranch(server, 'both-app')).toBe(sha);
  expect(await serverBranch(server, 'both-app', 'master')).toBe('');
  // Later, master alone is refused too: the app deploys from main.
  const next = await app.commit('two', { 'index.html': 'two\n' });
  await app.git('branch', '-f', 'master', next);
  const alone = await app.push(server.remote('both-app'), 'master');
  expect(alone.exitCode).not.toBe(0);
  expect(alone.remote.join('\n')).toContain('both-app deploys from main, so master is not deployed; push to main: git push deploy master:main');
  expect(await getApp(server.routerPort, 'both-app', '/version.txt')).toEqual({ status: 200, body: `${sha}\n` });
});

test('every container of a deployment gets the env as it was when the deployment started', async () => {
  const g = await gate();
  const app = newApp(
    'snap-app',
    busyboxApp({
      // The web process waits for the gate before it listens: the env changes during its boot.
      web: `wget -q -O /dev/null http://127.0.0.1:${g.port}/; ${WEB}`,
      postdeploy: 'echo "hook sees COLOUR=$COLOUR"',
    }),
  );
  await app.commit('snap');
  expect((await server.api('POST', '/api/apps', { name: 'snap-app' })).status).toBe(201);
  expect((await server.api('PATCH', '/api/apps/snap-app/env', { COLOUR: 'blue' })).status).toBe(200);
  const push = pushing(app, server, 'snap-app');
  await until(() => push.lines.some((l) => l.includes('Waiting for web-1')));
  expect((await server.api('PATCH', '/api/apps/snap-app/env', { COLOUR: 'red' })).status).toBe(200);
  g.release();
  const result = await push.result;
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('hook sees COLOUR=blue');
  expect((await getApp(server.routerPort, 'snap-app', '/env.txt')).body).toContain('COLOUR=blue\n');
});

/** Whether the app's git endpoint refuses pushes now (503), as it does for an app being destroyed. */
async function pushesRefused(s: TestServer, name: string): Promise<boolean> {
  const res = await fetch(`${s.url}/${name}.git/info/refs?service=git-receive-pack`, {
    headers: { authorization: `Basic ${Buffer.from(`git:${s.token}`).toString('base64')}` },
  });
  await res.arrayBuffer();
  return res.status === 503;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('apps:destroy during a push: the queued push ends aborted, a new one is refused, and the server still stops', async () => {
  const s = await startServer();
  try {
    const g = await gate();
    const app = newApp('gone-app', busyboxApp({ web: WEB, postdeploy: waitFor(g) }));
    await app.commit('one');
    const running = pushing(app, s, 'gone-app');
    await until(() => running.lines.includes('hook waits'));
    const other = newApp('gone-app', busyboxApp({ web: WEB }, { 'index.html': 'other\n' }));
    await other.commit('other');
    const queued = pushing(other, s, 'gone-app', ['--force']);
    await until(() => queued.lines.some((l) => l.includes('is queued behind deployment 1')));

    const destroying = s.api<{ destroyed: string }>('DELETE', '/api/apps/gone-app?confirm=gone-app');
    await until(() => pushesRefused(s, 'gone-app'));
    const refused = await other.push(s.remote('gone-app'), 'main', { args: ['--force'] });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toContain('gone-app is being destroyed (apps:destroy); push again once it is gone to create it anew');

    g.release();
    expect((await running.result).exitCode).toBe(0);
    const aborted = await queued.result;
    expect(aborted.output).toContain('[remote rejected] main -> main (aborted)');
    expect(aborted.remote.join('\n')).toContain(
      'gone-app is being destroyed (apps:destroy); push again once it is gone to create it anew; deployment 2 was not run',
    );
    expect(await destroying).toMatchObject({ status: 200, body: { destroyed: 'gone-app' } });
    expect(await appContainers('gone-app')).toEqual([]);
    expect((await s.api('GET', '/api/apps/gone-app')).status).toBe(404);
  } finally {
    // SIGTERM: the server stops (the race used to leave it waiting forever for the push's bookkeeping).
    await s.stop();
  }
});

test('SIGTERM during a deployment: it finishes and its client sees success, the queued one ends aborted, new pushes are refused, apps keep serving', async () => {
  const s = await startServer();
  try {
    const app = newApp('stop-app', busyboxApp({ web: WEB }));
    const v1 = await app.commit('v1');
    expect((await app.push(s.remote('stop-app'))).exitCode).toBe(0);
    const g = await gate();
    const v2 = await app.commit('v2', { Procfile: `web: ${WEB}\npostdeploy: ${waitFor(g)}\n` });
    const running = pushing(app, s, 'stop-app');
    await until(() => running.lines.includes('hook waits'));
    const other = newApp('stop-app', {});
    await execa('git', ['clone', '-q', s.remote('stop-app'), other.dir]);
    await other.commit('v3', { 'index.html': 'v3\n' });
    const queued = pushing(other, s, 'stop-app');
    await until(() => queued.lines.some((l) => l.includes('is queued behind deployment 2')));

    process.kill(s.pid(), 'SIGTERM');
    await until(() => pushesRefused(s, 'stop-app'));
    const refused = await other.push(s.remote('stop-app'));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toContain('The server is stopping; push again once it is back');
    // The router still serves while deployments finish.
    expect(await getApp(s.routerPort, 'stop-app', '/version.txt')).toEqual({ status: 200, body: `${v1}\n` });

    g.release();
    const done = await running.result;
    expect(done.output).toContain('Deployment 2 succeeded');
    expect(done.exitCode).toBe(0);
    const aborted = await queued.result;
    expect(aborted.output).toContain('[remote rejected] main -> main (aborted)');
    expect(aborted.remote.join('\n')).toContain('The server is stopping; push again once it is back; deployment 3 was not run');
    await until(() => !alive(s.pid()));

    // The next start serves v2, recorded as it ended.
    await s.restart();
    expect(await getApp(s.routerPort, 'stop-app', '/version.txt')).toEqual({ status: 200, body: `${v2}\n` });
    const list = (await s.api<DeploymentJson[]>('GET', '/api/apps/stop-app/deployments')).body;
    expect(list.map((d) => [d.id, d.status])).toEqual([
      [3, 'aborted'],
      [2, 'success'],
      [1, 'success'],
    ]);
  } finally {
    await s.stop();
  }
});

test('a rollback asked during a deployment picks its target when it runs; waits are said; a push behind them says what it waits for', async () => {
  const g = await gate();
  const app = newApp('queue-app', busyboxApp({ web: WEB }));
  await app.commit('one');
  expect((await app.push(server.remote('queue-app'))).exitCode).toBe(0);
  await app.commit('two', { 'index.html': 'two\n' });
  expect((await app.push(server.remote('queue-app'))).exitCode).toBe(0);
  await app.commit('three', { Procfile: `web: ${WEB}\npostdeploy: ${waitFor(g)}\n` });
  const running = pushing(app, server, 'queue-app');
  await until(() => running.lines.includes('hook waits'));

  const rollback = server.api<string>('POST', '/api/apps/queue-app/rollback', {});
  await until(async () => (await server.api<DeploymentJson[]>('GET', '/api/apps/queue-app/deployments')).body.length === 4);
  const scale = server.api<string>('POST', '/api/apps/queue-app/scale', { web: 1 });
  const other = newApp('queue-app', {});
  await execa('git', ['clone', '-q', server.remote('queue-app'), other.dir]);
  await other.commit('four', { 'index.html': 'four\n' });
  const behind = pushing(other, server, 'queue-app');
  await until(() => behind.lines.some((l) => l.includes('is queued behind')));
  expect(behind.lines).toContain('-----> Deployment 5 is queued behind deployment 3, deployment 4 and a scale of queue-app');

  g.release();
  expect((await running.result).exitCode).toBe(0);
  const rolled = await rollback;
  expect(rolled.status).toBe(200);
  // Deployment 3 served when the rollback ran: it goes back to 2 (when asked, 2 served, so 1).
  expect(String(rolled.body)).toContain('"rollbackOf":2');
  expect(String((await scale).body)).toContain('Waiting for deployment 3 and deployment 4 of queue-app to finish');
  await behind.result;
});

test('five images are kept, the current one included', async () => {
  const app = newApp('img-app', busyboxApp({ web: WEB }));
  for (let i = 1; i <= 6; i++) {
    await app.commit(`image ${i}`, { 'index.html': `${i}\n` });
    expect((await app.push(server.remote('img-app'))).exitCode).toBe(0);
  }
  const images = await docker.listImages({ filters: { reference: ['slipway/img-app'] } });
  expect(images.flatMap((i) => i.RepoTags ?? []).sort()).toEqual([
    'slipway/img-app:2',
    'slipway/img-app:3',
    'slipway/img-app:4',
    'slipway/img-app:5',
    'slipway/img-app:6',
  ]);
});

test('a response whose header lines end in a bare LF (busybox CGI) reaches the client', async () => {
  const app = newApp('cgi-app', {
    ...busyboxApp({ web: `chmod +x /app/cgi-bin/hello && exec httpd -f -p 127.0.0.1:$PORT -h /app` }),
    'cgi-bin/hello': '#!/bin/sh\necho "Content-Type: text/plain"\necho "X-From: cgi"\necho\necho "hello from cgi"\n',
  });
  await app.commit('cgi');
  expect((await app.push(server.remote('cgi-app'))).exitCode).toBe(0);
  expect(await getApp(server.routerPort, 'cgi-app', '/cgi-bin/hello')).toEqual({ status: 200, body: 'hello from cgi\n' });
});

test('deployments:info without an id shows the latest and marks the phase it failed in; the deployments table marks rollbacks', async () => {
  const info = await slipway(['deployments:info', '-a', 'dies-app']);
  expect(info.exitCode).toBe(0);
  expect(info.stdout).toContain('Deployment 2 of dies-app: crashed-error');
  expect(info.stdout).toMatch(/\nboot\s+\S+\npostdeploy\s+\S+\nswitch\s+failed after \S+\n/);
  const list = await slipway(['deployments', '-a', 'queue-app']);
  expect(list.stdout).toMatch(/\n4\s+success\s+[0-9a-f]{7} rollback of 2\s/);
});
