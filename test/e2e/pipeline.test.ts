import { jest } from '@jest/globals';
import Docker from 'dockerode';
import { execa } from 'execa';
import http from 'node:http';
import type { TestApp } from '../support/app.js';
import { appContainers, imageExists } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp, startGate } from '../support/http.js';
import { ServerSuite, type TestServer } from '../support/server.js';

// Every test here pushes with real git and builds and boots real containers: each test and
// hook gets up to 3 minutes (an explicit bound, so a slow machine is not a failure).
jest.setTimeout(180_000);

const suite = new ServerSuite();
let server: TestServer;

/** A working copy for the app `name`, whose containers and images the suite removes at the end. */
function newApp(name: string, files: Record<string, string>): TestApp {
  suite.owns(name);
  return suite.app(files);
}

interface DeploymentJson {
  id: number;
  status: string;
  commit: string;
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

async function deployments(name: string): Promise<DeploymentJson[]> {
  const res = await server.api<DeploymentJson[]>('GET', `/api/apps/${name}/deployments`);
  expect(res.status).toBe(200);
  return res.body;
}

async function serverRef(name: string): Promise<string | undefined> {
  const { stdout } = await execa('git', ['ls-remote', server.remote(name), 'refs/heads/main']);
  return stdout.split('\t')[0] || undefined;
}

beforeAll(async () => {
  ({ server } = await suite.start());
});

afterAll(() => suite.stop());

test('a push with web, worker and postdeploy builds, boots, runs the hook, then serves', async () => {
  const app = newApp(
    'full-app',
    busyboxApp({
      web: WEB,
      worker: 'while true; do sleep 1; done',
      postdeploy:
        'echo "hook-env APP=$APP CONTAINER=$CONTAINER PORT=$PORT CONTAINER_VERSION=$CONTAINER_VERSION SOURCE_VERSION=$SOURCE_VERSION STACK=$STACK GREETING=$GREETING"',
    }),
  );
  const sha = await app.commit('first');
  // The app exists after the first push only; set its env through the API afterwards and
  // check the second deploy's hook sees it.
  const first = await app.push(server.remote('full-app'));
  expect(first.exitCode).toBe(0);

  const env = await server.api('PATCH', '/api/apps/full-app/env', { GREETING: 'hello world' });
  expect(env.status).toBe(200);
  const sha2 = await app.commit('second', { 'README.md': 'two\n' });
  const result = await app.push(server.remote('full-app'));
  expect(result.exitCode).toBe(0);

  // What the user sees: each phase, in the seed's order, then the status line.
  const phases = result.remote.filter((l) => l.startsWith('-----> '));
  const order = [
    'Deploying full-app',
    'Building image',
    'Starting web-1, worker-1',
    'Waiting for web-1',
    'Running postdeploy',
    'Switching traffic to deployment 2',
    'Stopping the previous containers',
    'Deployment 2 succeeded',
  ];
  let at = -1;
  for (const step of order) {
    const next = phases.findIndex((l, i) => i > at && l.includes(step));
    expect({ step, found: next > at }).toEqual({ step, found: true });
    at = next;
  }
  expect(result.remote.at(-1)).toMatch(/^-----> Deployment 2 succeeded in [\d.]+s: http:\/\/full-app\.localhost:\d+$/);

  // The hook saw the app's variables and the injected ones.
  const hookLine = result.remote.find((l) => l.startsWith('hook-env'));
  expect(hookLine).toBeDefined();
  expect(hookLine).toContain('APP=full-app');
  expect(hookLine).toContain('CONTAINER=postdeploy-1');
  expect(hookLine).toMatch(/PORT=\d+/);
  expect(hookLine).toContain(`CONTAINER_VERSION=${sha2}`);
  expect(hookLine).toContain(`SOURCE_VERSION=${sha2}`);
  expect(hookLine).toContain('STACK=slipway-trixie');
  expect(hookLine).toContain('GREETING=hello world');

  // What really happened: the router serves the new commit, the web container has the same
  // environment, and exactly the new web and worker containers run.
  const served = await getApp(server.routerPort, 'full-app', '/version.txt');
  expect(served).toEqual({ status: 200, body: `${sha2}\n` });
  const webEnv = (await getApp(server.routerPort, 'full-app', '/env.txt')).body;
  expect(webEnv).toContain('GREETING=hello world');
  expect(webEnv).toContain('CONTAINER=web-1');
  expect(webEnv).toContain(`SOURCE_VERSION=${sha2}`);
  expect(await appContainers('full-app')).toEqual(['slipway-full-app-2-web-1', 'slipway-full-app-2-worker-1']);
  expect(await serverRef('full-app')).toBe(sha2);
  expect(sha).not.toBe(sha2);

  const list = await deployments('full-app');
  expect(list.map((d) => [d.id, d.status, d.commit])).toEqual([
    [2, 'success', sha2],
    [1, 'success', sha],
  ]);
  expect(list[0]!.finishedAt).not.toBeNull();
  const detail = await server.api<{ phases: { phase: string; durationMs: number }[] }>('GET', '/api/apps/full-app/deployments/2');
  expect(detail.body.phases.map((p) => p.phase)).toEqual(['build', 'start', 'boot', 'postdeploy', 'switch', 'retire']);
  const output = await server.api<string>('GET', '/api/apps/full-app/deployments/2/output');
  expect(output.body).toContain('-----> Running postdeploy');
  expect(output.body).toContain('hook-env APP=full-app');
});

test('a failing hook rejects the push with hook-error; the old version keeps serving; a fixed env lets the same commit deploy', async () => {
  const app = newApp('hook-app', busyboxApp({ web: WEB, postdeploy: 'echo migrating' }));
  const good = await app.commit('good');
  expect((await app.push(server.remote('hook-app'))).exitCode).toBe(0);

  // The hook fails unless MIGRATE_OK is set, and runs long enough to poll the router meanwhile.
  const bad = await app.commit('needs env', {
    Procfile: `web: ${WEB}\npostdeploy: echo migrating; sleep 2; test "$MIGRATE_OK" = yes || { echo "MIGRATE_OK is not set" >&2; exit 4; }\n`,
  });
  const seenDuringHook = new Set<string>();
  let hookRunning = false;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      if (hookRunning) {
        const r = await getApp(server.routerPort, 'hook-app', '/version.txt');
        seenDuringHook.add(`${r.status} ${r.body.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const result = await app.push(server.remote('hook-app'), 'main', {
    onRemoteLine: (line) => {
      if (line.includes('migrating')) hookRunning = true;
      if (line.includes('MIGRATE_OK is not set')) hookRunning = false;
    },
  });
  polling = false;
  await poller;

  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (hook-error)');
  expect(result.remote).toContain('MIGRATE_OK is not set');
  expect(result.remote.join('\n')).toMatch(/!\s+The postdeploy command failed with exit code 4/);
  expect(result.remote.join('\n')).toContain('Deployment 1 keeps serving');
  expect(result.remote.at(-1)).toMatch(/^!\s+Deployment 2 failed: hook-error in the postdeploy phase after [\d.]+s: http:\/\/hook-app\.localhost:\d+$/);
  // No request reached the new containers while the hook ran.
  expect([...seenDuringHook]).toEqual([`200 ${good}`]);
  expect(await getApp(server.routerPort, 'hook-app', '/version.txt')).toEqual({ status: 200, body: `${good}\n` });
  expect(await serverRef('hook-app')).toBe(good);
  expect(await appContainers('hook-app')).toEqual(['slipway-hook-app-1-web-1']);
  expect(await imageExists('slipway/hook-app:2')).toBe(false);
  const [failed] = await deployments('hook-app');
  expect(failed).toMatchObject({ id: 2, status: 'hook-error', commit: bad });
  expect(failed!.reason).toContain('exit code 4');

  // Fix the environment and push the very same commit again: it deploys.
  expect((await server.api('PATCH', '/api/apps/hook-app/env', { MIGRATE_OK: 'yes' })).status).toBe(200);
  const retry = await app.push(server.remote('hook-app'));
  expect(retry.exitCode).toBe(0);
  expect(await getApp(server.routerPort, 'hook-app', '/version.txt')).toEqual({ status: 200, body: `${bad}\n` });
  expect(await serverRef('hook-app')).toBe(bad);
  expect(await appContainers('hook-app')).toEqual(['slipway-hook-app-3-web-1']);
});

test('hook output reaches the git client while the hook is still running', async () => {
  // The hook prints a line, then waits until this test has seen that line in `git push`'s
  // output and answers it. Were output delivered only at the hook's end, it would never end.
  const gate = await startGate();
  try {
    const app = newApp(
      'stream-app',
      busyboxApp({
        web: WEB,
        postdeploy: `echo "waiting for the test"; wget -q -O- http://127.0.0.1:${gate.port}/ ; echo "released"`,
      }),
    );
    await app.commit('stream');
    const events: string[] = [];
    const result = await app.push(server.remote('stream-app'), 'main', {
      onRemoteLine: (line) => {
        if (line === 'waiting for the test') {
          events.push('saw first line');
          gate.release();
        }
        if (line === 'released') events.push('saw last line');
      },
    });
    expect(result.exitCode).toBe(0);
    expect(events).toEqual(['saw first line', 'saw last line']);
  } finally {
    gate.close();
  }
});

test('a hook line without a newline still reaches the client while the hook waits', async () => {
  const gate = await startGate();
  try {
    const app = newApp(
      'partial-app',
      busyboxApp({
        web: WEB,
        postdeploy: `printf "Continue? "; wget -q -O /dev/null http://127.0.0.1:${gate.port}/ ; echo yes`,
      }),
    );
    await app.commit('partial');
    let seen = false;
    const result = await app.push(server.remote('partial-app'), 'main', {
      onRemoteLine: (line) => {
        if (line === 'Continue?') {
          seen = true;
          gate.release();
        }
      },
    });
    expect(result.exitCode).toBe(0);
    expect(seen).toBe(true);
    expect(result.remote).toContain('yes');
  } finally {
    gate.close();
  }
});

test("a Heroku Procfile's release: runs as the postdeploy hook, before traffic, and never as a process", async () => {
  const app = newApp('release-app', busyboxApp({ release: 'echo "migrating $CONTAINER"', web: WEB }));
  await app.commit('release');
  const result = await app.push(server.remote('release-app'));
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('-----> Running postdeploy: echo "migrating $CONTAINER"');
  expect(result.remote).toContain('migrating postdeploy-1');
  const switched = result.remote.findIndex((l) => l.startsWith('-----> Switching traffic'));
  expect(switched).toBeGreaterThan(result.remote.indexOf('migrating postdeploy-1'));
  expect(await appContainers('release-app')).toEqual(['slipway-release-app-1-web-1']);
  expect((await getApp(server.routerPort, 'release-app', '/index.html')).body).toBe('hello\n');
});

test('a file the hook writes is invisible to the web container', async () => {
  const app = newApp('files-app', busyboxApp({ web: WEB, postdeploy: 'echo from-the-hook > /app/hook.txt && cat /app/hook.txt' }));
  await app.commit('files');
  const result = await app.push(server.remote('files-app'));
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('from-the-hook');
  expect((await getApp(server.routerPort, 'files-app', '/hook.txt')).status).toBe(404);
  expect((await getApp(server.routerPort, 'files-app', '/index.html')).body).toBe('hello\n');
});

test('a web process that exits during boot fails with crashed-error and its last log lines', async () => {
  const app = newApp('crash-app', busyboxApp({ web: 'echo "config missing: DATABASE_URL" >&2; exit 3', postdeploy: 'echo never' }));
  const sha = await app.commit('crash');
  const result = await app.push(server.remote('crash-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (crashed-error)');
  const text = result.remote.join('\n');
  expect(text).toContain('web-1 exited with code 3');
  expect(text).toContain('config missing: DATABASE_URL');
  expect(text).not.toContain('Running postdeploy');
  expect(text).toContain('Nothing was serving before');
  expect(await appContainers('crash-app')).toEqual([]);
  expect(await serverRef('crash-app')).toBeUndefined();
  expect((await deployments('crash-app'))[0]).toMatchObject({ status: 'crashed-error', commit: sha });
  // A known app with nothing running answers 503; an unknown host 404.
  expect((await getApp(server.routerPort, 'crash-app')).status).toBe(503);
  expect((await getApp(server.routerPort, 'no-such-app')).status).toBe(404);
});

test('a web process that never listens fails with timeout-error after the app boot timeout', async () => {
  const app = newApp('slow-app', busyboxApp({ web: 'echo "starting slowly"; sleep 600' }));
  await app.commit('slow');
  expect((await server.api('POST', '/api/apps', { name: 'slow-app' })).status).toBe(201);
  const settings = await server.api('PATCH', '/api/apps/slow-app/settings', { bootTimeout: 2 });
  expect(settings).toEqual({
    status: 200,
    body: {
      bootTimeout: 2,
      hookTimeout: null,
      stopTimeout: null,
      memory: null,
      cpus: null,
      healthcheckTimeout: null,
      healthcheckInterval: null,
      healthcheckPath: null,
      forceHttps: false,
      hsts: false,
    },
  });
  const result = await app.push(server.remote('slow-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (timeout-error)');
  const text = result.remote.join('\n');
  expect(text).toMatch(/web-1 \(port \d+\) did not accept connections within 2\.0s/);
  expect(text).toContain('starting slowly');
  expect(await appContainers('slow-app')).toEqual([]);
});

test('a bad Procfile fails with build-error naming the line', async () => {
  const app = newApp('procfile-app', busyboxApp({ web: WEB }));
  app.write({ Procfile: `web: ${WEB}\n# a comment\nworker sleep 10\n` });
  await app.commit('bad procfile');
  const result = await app.push(server.remote('procfile-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (build-error)');
  expect(result.remote.join('\n')).toContain('Procfile line 3: expected "type: command" but found no colon');
  expect(await appContainers('procfile-app')).toEqual([]);

  await app.commit('no procfile', { Procfile: null });
  const missing = await app.push(server.remote('procfile-app'));
  expect(missing.output).toContain('(build-error)');
  expect(missing.remote.join('\n')).toContain('There is no Procfile at the root of the commit');
});

test('a failing Dockerfile fails with build-error and leaves no image', async () => {
  const app = newApp('docker-app', busyboxApp({ web: WEB }, { Dockerfile: 'FROM slipway/test-busybox:latest\nRUN echo "compiling" && exit 7\n' }));
  await app.commit('bad dockerfile');
  const result = await app.push(server.remote('docker-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (build-error)');
  const text = result.remote.join('\n');
  expect(text).toContain('compiling');
  expect(text).toMatch(/The image build failed: .*exit code: 7/);
  expect(await imageExists('slipway/docker-app:1')).toBe(false);
  expect(await appContainers('docker-app')).toEqual([]);
});

test('two overlapping pushes to one app deploy one after the other', async () => {
  const first = newApp('queue-app', busyboxApp({ web: WEB }));
  const sha0 = await first.commit('first release');
  expect((await first.push(server.remote('queue-app'))).exitCode).toBe(0);
  const shaA = await first.commit('A', { Procfile: `web: ${WEB}\npostdeploy: sleep 2; echo first-hook-done\n` });
  // A second clone pushes a different commit (forced: its history is unrelated to what it saw) while A deploys.
  const second = suite.app(busyboxApp({ web: WEB, postdeploy: 'echo second-hook' }));
  const shaB = await second.commit('B');

  let resolveStarted!: () => void;
  const aStarted = new Promise<void>((resolve) => (resolveStarted = resolve));
  const pushA = first.push(server.remote('queue-app'), 'main', {
    onRemoteLine: (line) => line.includes('Running postdeploy') && resolveStarted(),
  });
  await aStarted;
  const pushB = second.push(server.remote('queue-app'), 'main', { args: ['--force'] });
  const [a, b] = await Promise.all([pushA, pushB]);

  expect(a.exitCode).toBe(0);
  expect(b.exitCode).toBe(0);
  expect(b.remote.join('\n')).toContain('Deployment 3 is queued behind deployment 2 of queue-app');
  const list = await deployments('queue-app');
  expect(list.map((d) => [d.id, d.status, d.commit])).toEqual([
    [3, 'success', shaB],
    [2, 'success', shaA],
    [1, 'success', sha0],
  ]);
  const detailB = await server.api<{ phases: { phase: string; startedAt: string }[] }>('GET', '/api/apps/queue-app/deployments/3');
  const bBuild = detailB.body.phases.find((p) => p.phase === 'build')!;
  expect(Date.parse(bBuild.startedAt)).toBeGreaterThanOrEqual(Date.parse(list[1]!.finishedAt!));
  expect(await serverRef('queue-app')).toBe(shaB);
  expect(await getApp(server.routerPort, 'queue-app', '/version.txt')).toEqual({ status: 200, body: `${shaB}\n` });
});

test('a hook that outlives the hook timeout fails with hook-error and leaves nothing behind', async () => {
  const app = newApp('hang-app', busyboxApp({ web: WEB, postdeploy: 'echo "starting a long job"; sleep 120' }));
  await app.commit('hang');
  expect((await server.api('POST', '/api/apps', { name: 'hang-app' })).status).toBe(201);
  expect((await server.api('PATCH', '/api/apps/hang-app/settings', { hookTimeout: 1 })).status).toBe(200);
  const result = await app.push(server.remote('hang-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('! [remote rejected] main -> main (hook-error)');
  expect(result.remote).toContain('starting a long job');
  expect(result.remote.join('\n')).toContain('The postdeploy command did not finish within 1.0s and was stopped');
  expect(await appContainers('hang-app')).toEqual([]);
  expect(await imageExists('slipway/hang-app:1')).toBe(false);
});

test('the image build runs with host networking and sees SOURCE_VERSION when it declares it', async () => {
  const local = http.createServer((_req, res) => res.end('from-the-host-network\n'));
  await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
  const port = (local.address() as { port: number }).port;
  try {
    const app = newApp(
      'net-app',
      busyboxApp(
        { web: WEB },
        {
          Dockerfile: `FROM slipway/test-busybox:latest\nARG SOURCE_VERSION\nRUN wget -q -O- http://127.0.0.1:${port}/ && echo "building $SOURCE_VERSION"\nCOPY . /app\nWORKDIR /app\n`,
        },
      ),
    );
    const sha = await app.commit('network');
    const result = await app.push(server.remote('net-app'));
    expect(result.exitCode).toBe(0);
    expect(result.remote).toContain('from-the-host-network');
    expect(result.remote).toContain(`building ${sha}`);
  } finally {
    local.close();
  }
});

test('a hook that prints 30 MB: the push ends with its status, and the stored log keeps its first part and every status line', async () => {
  const app = newApp(
    'loud-app',
    busyboxApp({
      web: WEB,
      postdeploy: 'yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c 30000000; echo; echo loud-hook-done',
    }),
  );
  await app.commit('loud');
  const result = await app.push(server.remote('loud-app'));
  expect(result.exitCode).toBe(0);
  expect(result.remote.at(-1)).toMatch(/^-----> Deployment 1 succeeded in/);
  expect(result.remote).toContain('-----> Switching traffic to deployment 1');
  const output = await server.api<string>('GET', '/api/apps/loud-app/deployments/1/output');
  expect(output.body.length).toBeLessThan(9 * 1024 * 1024);
  expect(output.body).toMatch(/\.\.\. \d+ lines of output not stored: a deployment keeps its first 8 MB/);
  expect(output.body.trimEnd().split('\n').at(-1)).toMatch(/^-----> Deployment 1 succeeded in/);
});

test('memory and CPU limits set for an app apply to its containers and its hook', async () => {
  const app = newApp(
    'limits-app',
    busyboxApp({ web: WEB, postdeploy: 'echo "hook memory=$CONTAINER_MEMORY"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes' }),
  );
  await app.commit('limits');
  expect((await server.api('POST', '/api/apps', { name: 'limits-app' })).status).toBe(201);
  const bad = await server.api<{ message: string }>('PATCH', '/api/apps/limits-app/settings', { memory: 1 });
  expect(bad).toEqual({
    status: 400,
    body: { error: 'invalid_setting', message: 'memory must be a whole number of MiB from 16 to 1048576 for each container, or null for no limit' },
  });
  const set = await server.api<Record<string, unknown>>('PATCH', '/api/apps/limits-app/settings', { memory: 64, cpus: 0.5 });
  expect(set.body).toMatchObject({ memory: 64, cpus: 0.5 });

  const result = await app.push(server.remote('limits-app'));
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('hook memory=67108864');
  expect(result.remote).toContain('67108864');
  const docker = new Docker();
  const info = await docker.getContainer('slipway-limits-app-1-web-1').inspect();
  expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
  expect(info.HostConfig.NanoCpus).toBe(500_000_000);
  expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
  expect(info.HostConfig.Privileged).toBe(false);
});
