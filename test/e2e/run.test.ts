import Docker from 'dockerode';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { TestApp } from '../support/app.js';
import { appContainers, containerLogs } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { CLI, cliEnv, ServerSuite, startServer, type CliRunner, type TestServer } from '../support/server.js';

const APP = 'run-app';
const EMPTY_APP = 'run-empty';
const TIMED_APP = 'run-timed';
const USAGE = 'slipway run [-a APP] [-e KEY=VALUE]... [--detached] [--json] [--no-tty] -- COMMAND...';
const docker = new Docker();

const suite = new ServerSuite([APP, EMPTY_APP, TIMED_APP]);
let server: TestServer;
let home: string;
let slipway: CliRunner;
let app: TestApp;

beforeAll(async () => {
  ({ server, home, slipway } = await suite.start());
  app = suite.app(busyboxApp({ web: WEB }));
  await app.commit('run');
  const pushed = await app.push(server.remote(APP));
  expect(pushed.exitCode).toBe(0);
}, 60_000);

afterAll(() => suite.stop(), 60_000);

/** The app's attached one-offs the engine still has, running or not. */
async function attachedOneOffs(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`slipway.app=${APP}`, 'slipway.run=attached'] } });
  return list.map((c) => (c.Names[0] ?? '').replace(/^\//, ''));
}

/** Polls until `check` holds; fails with `what` when it never does. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs `shellLine` on a terminal of its own, as a person at a keyboard would: util-linux's
 * `script` gives it a pseudo-terminal, and each `[seen, typed]` pair types `typed` once `seen`
 * has appeared in the output. Resolves with everything the terminal showed and the exit code.
 */
async function onTerminal(shellLine: string, keys: [string, string][] = []): Promise<{ shown: string; exitCode: number | undefined }> {
  const child = execa('script', ['-qefc', shellLine, '/dev/null'], {
    env: { ...cliEnv(server, home), TERM: 'xterm-256color' },
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  let shown = '';
  let next = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    shown += chunk.toString('utf8');
    while (next < keys.length && shown.includes(keys[next]![0])) child.stdin?.write(keys[next++]![1]);
  });
  const { exitCode } = await child;
  return { shown: shown.replace(/\r/g, ''), exitCode };
}

const slipwayLine = `${process.execPath} ${CLI}`;

interface PsJson {
  name: string;
  container: string;
  type: string | null;
  state: string;
}

test("a run sees the app's environment and its own CONTAINER, numbered one-off-1, one-off-2, …", async () => {
  expect((await server.api('PATCH', `/api/apps/${APP}/env`, { GREETING: 'hello from env' })).status).toBe(200);
  const first = await slipway(['run', '-a', APP, '--', 'env']);
  expect(first.stderr).toBe('');
  expect(first.exitCode).toBe(0);
  const env = first.stdout.split('\n');
  expect(env).toContain('CONTAINER=one-off-1');
  expect(env).toContain('GREETING=hello from env');
  expect(env).toContain(`APP=${APP}`);
  expect(env).toEqual(expect.arrayContaining([expect.stringMatching(/^PORT=\d+$/)]));

  const second = await slipway(['run', '-a', APP, '--', 'sh', '-c', 'echo "$CONTAINER $DYNO"']);
  expect(second.stdout).toBe('one-off-2 one-off.2\n');
  expect(await attachedOneOffs()).toEqual([]);
}, 30_000);

test("-e sets variables for this run only, over the app's; names are checked as for env:set", async () => {
  expect((await server.api('PATCH', `/api/apps/${APP}/env`, { GREETING: 'hello from env' })).status).toBe(200);
  const run = await slipway(['run', '-a', APP, '-e', 'GREETING=for this run', '--env', 'EXTRA=a=b', '--', 'echo "$GREETING|$EXTRA"']);
  expect([run.stdout, run.exitCode]).toEqual(['for this run|a=b\n', 0]);
  const next = await slipway(['run', '-a', APP, '--', 'echo "$GREETING|$EXTRA"']);
  expect(next.stdout).toBe('hello from env|\n');

  const detached = await slipway(['run', '-a', APP, '--detached', '--json', '-e', 'MARK=detached', '--', 'sleep 1000']);
  const { container } = JSON.parse(detached.stdout) as { container: string };
  expect((await docker.getContainer(container).inspect()).Config.Env).toContain('MARK=detached');
  await docker.getContainer(container).remove({ force: true });

  const reserved = await slipway(['run', '-a', APP, '-e', 'PORT=1', '--', 'true']);
  expect([reserved.exitCode, reserved.stderr]).toEqual([1, 'slipway: PORT is set by Slipway in every container and cannot be changed; choose another name.\n']);
  const malformed = await slipway(['run', '-a', APP, '-e', 'DEBUG', '--', 'true']);
  expect([malformed.exitCode, malformed.stderr]).toEqual([2, 'slipway: "DEBUG" is not KEY=VALUE; write it as e.g. DATABASE_URL=postgres://…\n']);
  expect(await server.api('POST', `/api/apps/${APP}/run`, { command: 'true', env: { DEBUG: 1 } })).toEqual({
    status: 400,
    body: { error: 'invalid_env', message: 'the value of DEBUG must be a string' },
  });
  expect(await attachedOneOffs()).toEqual([]);
}, 60_000);

test("stdout and stderr are kept apart and the command's exit code is the CLI's", async () => {
  const result = await slipway(['run', '-a', APP, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  expect(result.exitCode).toBe(3);
  expect(result.stdout).toBe('out\n');
  expect(result.stderr).toBe('err\n');
  // One argument is a command line, run by the container's shell as typed.
  const line = await slipway(['run', '-a', APP, '--', 'echo "$APP" | tr a-z A-Z; exit 0']);
  expect(line.stdout).toBe('RUN-APP\n');
  expect(line.exitCode).toBe(0);
  expect(await attachedOneOffs()).toEqual([]);
}, 30_000);

test('without --, the command starts at its first word and keeps its own options (as heroku run node -v)', async () => {
  // -d would be --detached before the command; after its first word it is the command's.
  const result = await slipway(['run', '-a', APP, 'ls', '-d', '/']);
  expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, '/\n', '']);
  const withEnv = await slipway(['run', '-a', APP, '-e', 'WHO=you', 'sh', '-c', 'echo "hi $WHO"', '-e']);
  expect([withEnv.exitCode, withEnv.stdout]).toEqual([0, 'hi you\n']);
}, 60_000);

test("the CLI's stdin reaches the command, its end included, byte for byte", async () => {
  const cat = await slipway(['run', '-a', APP, '--', 'cat'], { input: 'hi\n' });
  expect(cat.stdout).toBe('hi\n');
  expect(cat.exitCode).toBe(0);

  const data = randomBytes(1024 * 1024);
  const counted = await slipway(['run', '-a', APP, '--', 'wc', '-c'], { input: data });
  expect(counted.stdout.trim()).toBe(String(data.length));
  expect(counted.exitCode).toBe(0);
  const summed = await slipway(['run', '-a', APP, '--', 'md5sum'], { input: data });
  expect(summed.stdout.split(' ')[0]).toBe(createHash('md5').update(data).digest('hex'));

  // A line-by-line conversation with a shell reading its commands from stdin.
  const shell = await slipway(['run', '-a', APP, '--', 'sh'], { input: 'echo one\necho two >&2\nexit 4\n' });
  expect([shell.stdout, shell.stderr, shell.exitCode]).toEqual(['one\n', 'two\n', 4]);
  expect(await attachedOneOffs()).toEqual([]);
}, 60_000);

describe('from a terminal', () => {
  test('a run gets one: of the local size, with TERM, one output stream, and the exit code', async () => {
    const command = `tty; stty size; echo "TERM=$TERM"; echo to-stderr >&2; exit 5`;
    const { shown, exitCode } = await onTerminal(`stty rows 40 cols 100; ${slipwayLine} run -a ${APP} -- '${command}'`);
    expect(shown).toMatch(/^\/dev\/pts\/\d+\n40 100\nTERM=xterm-256color\nto-stderr\n$/);
    expect(exitCode).toBe(5);
    expect(await attachedOneOffs()).toEqual([]);
  }, 60_000);

  test('keys go to the command as typed: a shell reads lines, Ctrl-C interrupts the command, not the CLI', async () => {
    const shell = await onTerminal(`${slipwayLine} run -a ${APP} -- sh`, [
      ['# ', 'echo sum=$((20+22))\r'],
      ['sum=42', 'exit 7\r'],
    ]);
    expect(shell.shown).toContain('echo sum=$((20+22))\nsum=42\n');
    expect(shell.exitCode).toBe(7);

    const trap = `trap "echo interrupted; exit 130" INT; echo ready; while :; do sleep 0.1; done`;
    const interrupted = await onTerminal(`${slipwayLine} run -a ${APP} -- '${trap}'`, [['ready', '\u0003']]);
    expect(interrupted.shown).toContain('interrupted\n');
    expect(interrupted.exitCode).toBe(130);
    expect(await attachedOneOffs()).toEqual([]);
  }, 60_000);

  test("the command's terminal follows the local one when it is resized", async () => {
    // The CLI in the background of a shell that then resizes the terminal they share.
    const run = `${slipwayLine} run -a ${APP} -- 'stty size; sleep 3; stty size' </dev/tty`;
    const { shown, exitCode } = await onTerminal(`stty rows 30 cols 90; ${run} & sleep 1.5; stty rows 33 cols 77; wait $!`);
    expect(shown).toBe('30 90\n33 77\n');
    expect(exitCode).toBe(0);
  }, 60_000);

  test('its output can be read with logs while it runs, line by line', async () => {
    let records: { container: string; line: string; stream: string }[] = [];
    const read = async (): Promise<boolean> => {
      const logs = await slipway(['logs', '-a', APP, '--json', '--lines', '200']);
      records = logs.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as (typeof records)[number]);
      return records.some((r) => r.line === 'tty line two');
    };
    const run = onTerminal(`${slipwayLine} run -a ${APP} -- 'echo tty line one; echo tty line two; sleep 3'`);
    await eventually('the terminal one-off’s lines are in the logs', read);
    const ours = records.filter((r) => r.line.startsWith('tty line'));
    expect(ours.map((r) => [r.line, r.stream])).toEqual([
      ['tty line one', 'stdout'],
      ['tty line two', 'stdout'],
    ]);
    expect(ours[0]!.container).toMatch(/^one-off-\d+$/);
    expect((await run).exitCode).toBe(0);
  }, 60_000);

  test('--no-tty runs without one, stdout and stderr apart, as from a pipe', async () => {
    const { shown, exitCode } = await onTerminal(`${slipwayLine} run --no-tty -a ${APP} -- 'tty; exit 3' 2>/dev/null`);
    expect(shown).toBe('not a tty\n');
    expect(exitCode).toBe(3);
  }, 60_000);
});

test('a detached one-off that runs longer than timeouts.run is stopped, without waiting for another run; its logs stay', async () => {
  const timed = await startServer({ env: { SLIPWAY_RUN_TIMEOUT: '2' } });
  try {
    expect((await app.push(timed.remote(TIMED_APP))).exitCode).toBe(0);
    const started = await timed.api<{ name: string; container: string }>('POST', `/api/apps/${TIMED_APP}/run`, {
      command: 'trap "echo got SIGTERM; exit 0" TERM; echo working; while :; do sleep 0.2; done',
    });
    expect(started.status).toBe(201);
    const { container } = started.body;
    await eventually('the one-off is stopped', async () => !(await docker.getContainer(container).inspect()).State.Running);
    const state = (await docker.getContainer(container).inspect()).State;
    expect(state.ExitCode).toBe(0);
    expect(Date.parse(state.FinishedAt) - Date.parse(state.StartedAt)).toBeGreaterThanOrEqual(2000);
    const logs = await containerLogs(container);
    expect(logs).toContain('working\n');
    expect(logs).toContain('got SIGTERM\n');
    expect(timed.output()).toContain(
      `${TIMED_APP}: stopped ${started.body.name} (${container}), a detached one-off that ran longer than 2 s (timeouts.run); its logs stay for an hour`,
    );
  } finally {
    await timed.stop();
  }
}, 60_000);

test('a client that disappears mid-run takes its one-off with it', async () => {
  const child = slipway(['run', '-a', APP, '--', 'sleep', '100']);
  const running = { filters: { label: [`slipway.app=${APP}`, 'slipway.run=attached'], status: ['running'] } };
  await eventually('the sleep one-off runs', async () => (await docker.listContainers(running)).length === 1);
  child.kill('SIGKILL');
  expect((await child).signal).toBe('SIGKILL');
  await eventually('the killed client’s one-off is removed', async () => (await attachedOneOffs()).length === 0);
}, 60_000);

test('--detached returns while the command runs, names the one-off and how to read its output; its container stays', async () => {
  const result = await slipway(['run', '-a', APP, '--detached', '--', 'sh', '-c', 'echo detached-out; echo detached-err >&2; sleep 1000']);
  expect(result.exitCode).toBe(0);
  expect(result.stderr).toBe('');
  const match = new RegExp(
    "^Started (one-off-\\d+) of run-app, detached: sh -c 'echo detached-out; echo detached-err >&2; sleep 1000'\n" +
      'Read its output with: slipway logs --ps (one-off-\\d+) -a run-app\n$',
  ).exec(result.stdout);
  expect(match).not.toBeNull();
  const [, name, logsName] = match!;
  expect(logsName).toBe(name);
  const container = `slipway-${APP}-run-${name!.replace('one-off-', '')}`;
  // Still running when the CLI has returned: it did not wait for the command.
  const ps = (await server.api<PsJson[]>('GET', `/api/apps/${APP}/ps`)).body;
  expect(ps).toContainEqual(expect.objectContaining({ name, container, type: 'run', state: 'running' }));
  await eventually('its output is in the container log', async () => {
    const logs = await containerLogs(container);
    return logs.includes('detached-out') && logs.includes('detached-err');
  });
}, 60_000);

test('--detached --json prints the name and container; an ended detached one-off is kept for its logs', async () => {
  const result = await slipway(['run', '-a', APP, '--detached', '--json', '--', 'echo', 'finished']);
  expect(result.exitCode).toBe(0);
  const started = JSON.parse(result.stdout) as { name: string; container: string };
  expect(started).toEqual({ name: expect.stringMatching(/^one-off-\d+$/), container: expect.stringMatching(/^slipway-run-app-run-\d+$/) });
  await eventually('the detached one-off ends', async () => {
    const ps = (await server.api<PsJson[]>('GET', `/api/apps/${APP}/ps`)).body;
    return ps.some((c) => c.name === started.name && c.state === 'exited');
  });
  expect(await appContainers(APP)).toContain(started.container);
  expect(await containerLogs(started.container)).toContain('finished');
}, 60_000);

test('the API: a plain POST starts a detached one-off; a command is required', async () => {
  const started = await server.api<{ name: string; container: string }>('POST', `/api/apps/${APP}/run`, { command: 'true' });
  expect(started.status).toBe(201);
  expect(started.body.name).toMatch(/^one-off-\d+$/);
  expect(await server.api('POST', `/api/apps/${APP}/run`, { command: ' ' })).toEqual({
    status: 400,
    body: { error: 'invalid_command', message: 'give the command to run as a non-empty string: {"command": "rake db:migrate"}' },
  });
  expect(await server.api('POST', `/api/apps/${APP}/run`, { command: 'true', tty: { rows: 40, cols: 100 } })).toEqual({
    status: 400,
    body: { error: 'invalid_tty', message: 'a detached one-off has no terminal: leave out "tty", or run it attached' },
  });
  const wrongTty = {
    error: 'invalid_tty',
    message:
      'give the client\'s terminal as {"rows": 40, "cols": 120, "term": "xterm-256color"}: rows and cols from 1 to 65535 (or neither), term optional (letters, digits, . _ + -)',
  };
  for (const tty of [{ rows: 0, cols: 80 }, { rows: 40 }, { rows: 40, cols: 80, term: 'x; rm -rf /' }, 'yes']) {
    expect(await attachedRefusal({ command: 'true', tty })).toEqual({ status: 400, body: wrongTty });
  }
  expect(await attachedOneOffs()).toEqual([]);
}, 60_000);

/** An attached run's request that the server refuses: its status and JSON error. */
function attachedRefusal(body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}/api/apps/${APP}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', connection: 'Upgrade', upgrade: 'slipway-run' },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the run was accepted'));
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('--help shows the usage and an example', async () => {
  const result = await slipway(['run', '--help']);
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toContain(`Usage: ${USAGE}\n`);
  expect(result.stdout).toContain("Example:\n  slipway run -a my-app -- sh -c 'rake db:migrate && rake db:seed'\n");
  expect((await slipway(['help'])).stdout).toMatch(/\n {2}run +run a command in a one-off container/);
}, 60_000);

test('usage errors exit 2 and name the usage', async () => {
  const missing = await slipway(['run', '-a', APP]);
  expect([missing.exitCode, missing.stdout, missing.stderr]).toEqual([2, '', `slipway: Give the command to run after --: ${USAGE}\n`]);
  const json = await slipway(['run', '-a', APP, '--json', '--', 'true']);
  expect([json.exitCode, json.stderr]).toEqual([
    2,
    `slipway: --json goes with --detached (it prints the one-off's name); an attached run prints the command's own output. Usage: ${USAGE}\n`,
  ]);
}, 60_000);

test('an unknown app, an app with nothing deployed and a bad token each get one sentence and exit 1', async () => {
  for (const detached of [[], ['--detached']]) {
    const unknown = await slipway(['run', '-a', 'no-such-app', ...detached, '--', 'true']);
    expect([unknown.exitCode, unknown.stderr]).toEqual([1, 'slipway: There is no app named "no-such-app"; push to create it.\n']);
  }

  expect((await server.api('POST', '/api/apps', { name: EMPTY_APP })).status).toBe(201);
  for (const detached of [[], ['--detached']]) {
    const empty = await slipway(['run', '-a', EMPTY_APP, ...detached, '--', 'true']);
    expect([empty.exitCode, empty.stderr]).toEqual([1, `slipway: ${EMPTY_APP} has no release running yet; deploy it first: git push deploy main.\n`]);
  }
  expect(await server.api('POST', `/api/apps/${EMPTY_APP}/run`, { command: 'true' })).toEqual({
    status: 409,
    body: { error: 'no_release', message: `${EMPTY_APP} has no release running yet; deploy it first: git push deploy main` },
  });

  for (const detached of [[], ['--detached']]) {
    const refused = await slipway(['run', '-a', APP, ...detached, '--', 'true'], { token: 'not-a-token' });
    expect([refused.exitCode, refused.stderr]).toEqual([
      1,
      'slipway: The token was refused: run "slipway login --url URL --token TOKEN" with a valid one, or set SLIPWAY_TOKEN.\n',
    ]);
  }
  expect(await attachedOneOffs()).toEqual([]);
}, 60_000);

test('an attached one-off left by a server that crashed mid-run is removed when the server starts again', async () => {
  const child = slipway(['run', '-a', APP, '--', 'sleep', '100']);
  await eventually('the sleep one-off runs', async () => (await attachedOneOffs()).length === 1);
  const [orphan] = await attachedOneOffs();
  await server.crash();
  expect((await child).exitCode).toBe(1);
  expect(await attachedOneOffs()).toEqual([orphan]);
  await server.restart();
  await eventually('the orphaned one-off is removed', async () => (await attachedOneOffs()).length === 0);
  // The server logs the removal once the engine's answer is back: the line may follow the
  // container's disappearance by a moment.
  const said = `${APP}: removed ${orphan}, a one-off whose client left with the previous server`;
  await eventually(`the server to log "${said}"`, async () => server.output().includes(said));
  const next = await slipway(['run', '-a', APP, '--', 'true']);
  expect(next.exitCode).toBe(0);
}, 60_000);
