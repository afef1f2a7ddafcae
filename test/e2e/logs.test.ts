import Docker from 'dockerode';
import type { TestApp } from '../support/app.js';
import { busyboxApp } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const NAME = 'logs-app';
const EMPTY = 'logs-empty';
/** busybox httpd -vv logs each request's path (`url:/path`) and status to stderr. */
const web = (version: string): string => `echo "web ${version} started $CONTAINER"; exec httpd -f -vv -p 127.0.0.1:$PORT -h /app`;
const WORKER = 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';
/** `2026-11-26T16:50:01.123Z web-1: listening` */
const HUMAN_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([a-z0-9-]+): (.*)$/;

interface LogJson {
  time: string;
  container: string;
  type: string | null;
  deployment: number | null;
  stream: 'stdout' | 'stderr';
  line: string;
}

let server: TestServer;
let slipway: CliRunner;
let app: TestApp;
const suite = new ServerSuite([NAME, EMPTY]);

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
  app = suite.app(busyboxApp({ web: web('v1'), worker: WORKER }));
  await app.commit('v1');
  const pushed = await app.push(server.remote(NAME));
  if (pushed.exitCode !== 0) throw new Error(`the push failed:\n${pushed.output}`);
  expect((await server.api('POST', '/api/apps', { name: EMPTY })).status).toBe(201);
  // A request to the web container (logged on its stderr), then enough worker ticks to cut.
  expect((await getApp(server.routerPort, NAME, '/probe-backlog')).status).toBe(404);
  await until(async () => (await slipway(['logs', '-a', NAME, '--type', 'worker'])).stdout.includes('tick 15'), 'tick 15');
}, 120_000);

afterAll(() => suite.stop(), 60_000);

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function human(stdout: string): { time: string; container: string; line: string }[] {
  const lines = stdout.split('\n');
  expect(lines.pop()).toBe('');
  return lines.map((l) => {
    const m = HUMAN_LINE.exec(l);
    if (!m) throw new Error(`not a log line: ${JSON.stringify(l)}`);
    return { time: m[1]!, container: m[2]!, line: m[3]! };
  });
}

function expectTimeOrder(times: string[]): void {
  for (let i = 1; i < times.length; i++) expect(Date.parse(times[i]!)).toBeGreaterThanOrEqual(Date.parse(times[i - 1]!));
}

function ticks(lines: { line: string }[]): number[] {
  return lines
    .map((l) => /^tick (\d+)$/.exec(l.line))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]));
}

/** The numbers count up by one, without a gap or a repeat. */
function expectConsecutive(numbers: number[]): void {
  expect(numbers.length).toBeGreaterThan(0);
  expect(numbers).toEqual(numbers.map((_n, i) => numbers[0]! + i));
}

test('the backlog: both containers interleaved in time order, each line prefixed with its container', async () => {
  const result = await slipway(['logs', '-a', NAME, '--lines', '10000']);
  expect([result.exitCode, result.stderr]).toEqual([0, '']);
  const lines = human(result.stdout);
  expectTimeOrder(lines.map((l) => l.time));
  expect(lines[0]).toMatchObject({ container: expect.stringMatching(/^(web|worker)-1$/) });
  expect(lines).toContainEqual(expect.objectContaining({ container: 'web-1', line: 'web v1 started web-1' }));
  expect(lines).toContainEqual(expect.objectContaining({ container: 'web-1', line: expect.stringContaining('url:/probe-backlog') }));
  // The router's access line for that request is in the merged stream too (issue 16).
  expect(lines).toContainEqual(expect.objectContaining({ container: 'router', line: expect.stringMatching(/^method=GET path="\/probe-backlog" status=404 /) }));
  expect(new Set(lines.map((l) => l.container))).toEqual(new Set(['web-1', 'worker-1', 'router']));
  // Every tick from the first one, once each, in order, between the web container's lines.
  expect(ticks(lines)[0]).toBe(1);
  expectConsecutive(ticks(lines));
  expect(lines.filter((l) => l.container === 'worker-1').every((l) => /^tick \d+$/.test(l.line))).toBe(true);
  expect(result.stdout).not.toContain('\u001b[');
}, 60_000);

test('--lines N (-n N) is the last N lines over all the containers; the default is 100', async () => {
  const five = await slipway(['logs', '-a', NAME, '--lines', '5']);
  expect(five.exitCode).toBe(0);
  const lines = human(five.stdout);
  expect(lines).toHaveLength(5);
  expectTimeOrder(lines.map((l) => l.time));
  expectConsecutive(ticks(lines));

  const short = human((await slipway(['logs', '-a', NAME, '-n', '3'])).stdout);
  expect(short).toHaveLength(3);
  expect(ticks(short)[2]).toBeGreaterThanOrEqual(ticks(lines)[4]!);

  // Once there are more than 100 lines (about 20 s of ticks), the default shows the last 100.
  await until(async () => human((await slipway(['logs', '-a', NAME, '--lines', '10000'])).stdout).length > 100, '101 lines', 90_000);
  const byDefault = human((await slipway(['logs', '-a', NAME])).stdout);
  expect(byDefault).toHaveLength(100);
  expectConsecutive(ticks(byDefault));
}, 120_000);

test('--type and --ps keep only the matching containers', async () => {
  const webOnly = human((await slipway(['logs', '-a', NAME, '--type', 'web', '-n', '10000'])).stdout);
  expect(webOnly.map((l) => l.line)).toEqual([
    'web v1 started web-1',
    expect.stringMatching(/^127\.0\.0\.1:\d+: url:\/probe-backlog$/),
    expect.stringMatching(/^127\.0\.0\.1:\d+: response:404$/),
  ]);
  expect(webOnly.every((l) => l.container === 'web-1')).toBe(true);

  const workerOnly = human((await slipway(['logs', '-a', NAME, '--ps', 'worker-1', '-n', '20'])).stdout);
  expect(workerOnly).toHaveLength(20);
  expect(workerOnly.every((l) => l.container === 'worker-1')).toBe(true);
  expectConsecutive(ticks(workerOnly));

  const both = human((await slipway(['logs', '-a', NAME, '--type', 'web', '--ps', 'web-1'])).stdout);
  expect(both.map((l) => l.container)).toEqual(['web-1', 'web-1', 'web-1']);
}, 60_000);

test('--json: one JSON object per line, with the container, type, deployment and stream', async () => {
  const result = await slipway(['logs', '-a', NAME, '--json', '-n', '10000']);
  expect(result.exitCode).toBe(0);
  const records = result.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as LogJson);
  expect(records).toContainEqual({
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    container: 'web-1',
    type: 'web',
    deployment: 1,
    stream: 'stdout',
    line: 'web v1 started web-1',
  });
  expect(records).toContainEqual(expect.objectContaining({ container: 'web-1', stream: 'stderr', line: expect.stringContaining('url:/probe-backlog') }));
  expect(records.filter((r) => r.container === 'worker-1').every((r) => r.type === 'worker' && r.deployment === 1 && r.stream === 'stdout')).toBe(true);
  expectTimeOrder(records.map((r) => r.time));

  // The API itself answers NDJSON.
  const api = await fetch(`${server.url}/api/apps/${NAME}/logs?lines=2&type=worker`, { headers: { authorization: `Bearer ${server.token}` } });
  expect(api.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
  const body = await api.text();
  expect(
    body
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as LogJson).container),
  ).toEqual(['worker-1', 'worker-1']);
}, 60_000);

test('-t (--tail, as heroku logs --tail) follows as --follow does', async () => {
  const tail = suite.spawnCli(['logs', '-a', NAME, '-t', '--json', '-n', '1']);
  const live = (): number => tail.lines.filter((l) => l.includes('"container":"worker-1"')).length;
  await until(() => live() >= 3, 'live worker lines with -t');
}, 180_000);

test('--follow streams new lines live, picks up the containers of a new deployment and a restart, and survives the old ones going', async () => {
  const follow = suite.spawnCli(['logs', '-a', NAME, '--follow', '--json', '-n', '1']);
  const records = (): LogJson[] => follow.lines.filter((l) => l !== '').map((l) => JSON.parse(l) as LogJson);
  const worker = (deployment: number): LogJson[] => records().filter((r) => r.container === 'worker-1' && r.deployment === deployment);
  await until(() => ticks(worker(1)).length >= 3, 'live ticks of worker-1');

  // A line printed after the follow started, from the other container.
  expect((await getApp(server.routerPort, NAME, '/probe-follow')).status).toBe(404);
  await until(() => records().some((r) => r.container === 'web-1' && r.line.includes('url:/probe-follow')), 'the request line');

  // A new deployment: its containers show up from their first line; the old ones go away.
  await app.commit('v2', { Procfile: `web: ${web('v2')}\nworker: ${WORKER}\n` });
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).toBe(0);
  await until(() => records().some((r) => r.deployment === 2 && r.container === 'web-1' && r.line === 'web v2 started web-1'), 'the new web');
  await until(() => ticks(worker(2)).length >= 3, 'ticks of the new worker');
  expect((await getApp(server.routerPort, NAME, '/probe-v2')).status).toBe(404);
  await until(() => records().some((r) => r.deployment === 2 && r.line.includes('url:/probe-v2')), 'a request to the new web');

  // A restart of the same container: it counts from 1 again, and nothing it printed before repeats.
  const docker = new Docker();
  const [container] = await docker.listContainers({ filters: { label: [`slipway.app=${NAME}`, 'slipway.deployment=2', 'slipway.container=worker-1'] } });
  const before = ticks(worker(2)).length;
  await docker.getContainer(container!.Id).restart({ t: 0 });
  await until(() => ticks(worker(2)).slice(before).includes(3), 'ticks after the restart');

  expect(follow.child.exitCode).toBeNull();
  follow.child.kill('SIGINT');
  await follow.exited;

  // Deployment 1's worker: one unbroken run from the backlog's last line to its end.
  expectConsecutive(ticks(worker(1)));
  // Deployment 2's worker: from tick 1, then from tick 1 again after the restart; no repeats.
  const second = ticks(worker(2));
  const restartAt = second.lastIndexOf(1);
  expect(restartAt).toBeGreaterThan(0);
  expect(second[0]).toBe(1);
  expectConsecutive(second.slice(0, restartAt));
  expectConsecutive(second.slice(restartAt));
  expect(records().filter((r) => r.line === 'web v2 started web-1')).toHaveLength(1);
}, 180_000);

test('--follow in words: the backlog, then new lines as they are printed', async () => {
  const follow = suite.spawnCli(['logs', '-a', NAME, '-f', '--type', 'web']);
  await until(() => follow.lines.length >= 2, 'the backlog');
  expect((await getApp(server.routerPort, NAME, '/probe-words')).status).toBe(404);
  await until(() => follow.lines.some((l) => l.includes('url:/probe-words')), 'the request line');
  const parsed = follow.lines.map((l) => HUMAN_LINE.exec(l));
  expect(parsed.every((m) => m !== null && m[2] === 'web-1')).toBe(true);
  follow.child.kill('SIGINT');
  await follow.exited;
}, 120_000);

test('a detached one-off: its output stays readable with --ps after it exited', async () => {
  const run = await slipway(['run', '-a', NAME, '--detached', '--json', '--', 'echo "one-off says hi"; echo "to stderr" >&2']);
  expect(run.exitCode).toBe(0);
  const { name } = JSON.parse(run.stdout) as { name: string };
  expect(name).toMatch(/^one-off-\d+$/);
  await until(async () => (await slipway(['logs', '-a', NAME, '--ps', name])).stdout.includes('to stderr'), 'the one-off output');
  const records = (await slipway(['logs', '-a', NAME, '--ps', name, '--json'])).stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as LogJson);
  // Docker reads stdout and stderr apart, so their order within one container is its own.
  expect(records.map(({ container, type, stream, line }) => ({ container, type, stream, line })).sort((a, b) => a.line.localeCompare(b.line))).toEqual([
    { container: name, type: 'run', stream: 'stdout', line: 'one-off says hi' },
    { container: name, type: 'run', stream: 'stderr', line: 'to stderr' },
  ]);
  await until(async () => {
    const [info] = await new Docker().listContainers({ all: true, filters: { label: [`slipway.app=${NAME}`, `slipway.container=${name}`] } });
    return info?.State === 'exited';
  }, 'the one-off to exit');
  const byType = human((await slipway(['logs', '-a', NAME, '--type', 'run'])).stdout);
  expect(byType.map((l) => `${l.container}: ${l.line}`).sort()).toEqual([`${name}: one-off says hi`, `${name}: to stderr`]);
}, 60_000);

test('a --type or --ps that matches nothing prints nothing, and says which exist on stderr', async () => {
  const type = await slipway(['logs', '-a', NAME, '--type', 'api']);
  expect([type.exitCode, type.stdout, type.stderr]).toEqual([0, '', `${NAME} has no container of type "api"; its types are run, web, worker\n`]);
  const ps = await slipway(['logs', '-a', NAME, '--ps', 'web-9']);
  expect([ps.exitCode, ps.stdout]).toEqual([0, '']);
  expect(ps.stderr).toMatch(new RegExp(`^${NAME} has no container named "web-9"; its containers are one-off-\\d+, web-1, worker-1\\n$`));
  const api = await server.api('GET', `/api/apps/${NAME}/logs?type=api`);
  expect([api.status, api.body]).toEqual([200, '']);
}, 60_000);

test('an app without containers: a hint on stderr and exit 0; following, the hint and a wait for them', async () => {
  const result = await slipway(['logs', '-a', EMPTY]);
  expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, '', `${EMPTY} has no containers yet; deploy it with git push deploy main\n`]);

  const follow = suite.spawnCli(['logs', '-a', EMPTY, '--follow']);
  const hint = `${EMPTY} has no containers yet; deploy it with git push deploy main; waiting for one to start (Ctrl-C to stop)\n`;
  await until(() => follow.stderr() === hint, 'the hint');
  expect(follow.child.exitCode).toBeNull();
  follow.child.kill('SIGINT');
  await follow.exited;
  expect(follow.lines).toEqual([]);
}, 180_000);

test('errors: an unknown app, and --lines that is not a whole number from 1 to 10000', async () => {
  const unknown = await slipway(['logs', '-a', 'nope']);
  expect([unknown.exitCode, unknown.stderr]).toEqual([1, 'slipway: There is no app named "nope"; push to create it.\n']);
  expect((await server.api('GET', '/api/apps/nope/logs')).status).toBe(404);

  for (const bad of ['0', '-1', 'ten', '10001', '1.5']) {
    const result = await slipway(['logs', '-a', NAME, `--lines=${bad}`]);
    expect([result.exitCode, result.stdout]).toEqual([2, '']);
    expect(result.stderr).toBe(`slipway: --lines takes a whole number from 1 to 10000, not "${bad}"; e.g. slipway logs --lines 200.\n`);
    const api = await server.api<{ error: string; message: string }>('GET', `/api/apps/${NAME}/logs?lines=${encodeURIComponent(bad)}`);
    expect([api.status, api.body]).toEqual([400, { error: 'invalid_lines', message: `lines must be a whole number from 1 to 10000, not "${bad}"` }]);
  }
}, 60_000);

// Last: it stops the server.
test('when the server shuts down, a following CLI exits and says how to carry on', async () => {
  const follow = suite.spawnCli(['logs', '-a', NAME, '-f', '--type', 'worker', '-n', '1']);
  await until(() => follow.lines.length >= 2, 'live ticks');
  await server.stop();
  expect(await follow.exited).toBe(1);
  expect(follow.stderr()).toBe('slipway: The server closed the log stream (it stopped or restarted); run slipway logs again to carry on.\n');
}, 60_000);
