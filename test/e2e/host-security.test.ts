import Database from 'better-sqlite3';
import { execa } from 'execa';
import { chmodSync, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

/**
 * What an app, or a client of the API and git, must not be able to do to the host (issue 11):
 * capture loopback traffic, read the server's files, break every start with an env value, make
 * the server fail or hang with a malformed request, create an app by asking for its refs.
 */

const STACK_APP = 'caps-app';
const USER_APP = 'uid-app';
const REFS_APP = 'refs-app';
const suite = new ServerSuite([STACK_APP, USER_APP, REFS_APP]);
let server: TestServer;
let slipway: CliRunner;
/** The first test's app (caps-app), pushed again by a later one. */
let stackApp: TestApp;

/** perl-base is in the stack image: a packet socket (PF_PACKET 17, SOCK_RAW 3, ETH_P_ALL) or the reason it is refused. */
const PACKET_SOCKET = `perl -MSocket -e 'if (socket(my $s, 17, 3, 768)) { print "packet socket: opened\\n" } else { print "packet socket: $!\\n"; exit 3 }'`;

/** Reads every packet on every interface (lo included) for up to 15 s, looking for a bearer token. */
const SNIFF = `use Socket;
$| = 1;
socket(my $s, 17, 3, 768) or do { print STDERR "packet socket: $!\\n"; exit 2 };
print "sniffing\\n";
my $end = time + 15;
while (time < $end) {
  my $rin = ''; vec($rin, fileno($s), 1) = 1;
  next unless select(my $rout = $rin, undef, undef, 0.5);
  recv($s, my $buf, 65535, 0);
  if ($buf =~ /(Bearer [^\\r\\n]+)/) { print "captured $1\\n"; exit 0 }
}
print "nothing captured\\n";
exit 1;
`;

const WEB = `node -e 'require("http").createServer((q, s) => s.end("ok")).listen(process.env.PORT)'`;

beforeAll(async () => {
  ({ server, slipway } = await suite.start({ env: { SLIPWAY_GIT_BODY_TIMEOUT: '1' } }));
}, 60_000);

afterAll(() => suite.stop(), 60_000);

test('the postdeploy hook cannot open a packet socket (and the first push creates the app)', async () => {
  stackApp = suite.app({ Procfile: `web: ${WEB}\npostdeploy: ${PACKET_SOCKET} || true\n`, 'sniff.pl': SNIFF });
  const app = stackApp;
  await app.commit('first');
  const push = await app.push(server.remote(STACK_APP));
  expect(push.exitCode).toBe(0);
  expect((await server.api('GET', `/api/apps/${STACK_APP}`)).status).toBe(200);
  expect(push.remote).toContain('packet socket: Operation not permitted');
}, 180_000);

test('a one-off cannot open a packet socket', async () => {
  const run = await slipway(['run', '-a', STACK_APP, '--no-tty', '--', PACKET_SOCKET]);
  expect([run.exitCode, run.stdout]).toEqual([3, 'packet socket: Operation not permitted\n']);
}, 60_000);

test('a one-off cannot capture the token of API calls made meanwhile', async () => {
  const sniffer = slipway(['run', '-a', STACK_APP, '--no-tty', '--', 'perl sniff.pl']);
  let done = false;
  void sniffer.finally(() => (done = true));
  // API calls with the admin token go over loopback while the one-off runs (at most 15 s).
  let calls = 0;
  while (!done) {
    expect((await server.api('GET', '/api/apps')).status).toBe(200);
    calls += 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const result = await sniffer;
  expect(calls).toBeGreaterThan(0);
  expect(`${result.stdout}${result.stderr}`).not.toContain(server.token);
  expect([result.exitCode, result.stderr]).toEqual([2, 'packet socket: Operation not permitted\n']);
}, 60_000);

test('asking for the refs of an unknown app creates nothing', async () => {
  const refs = await fetch(`${server.url}/${REFS_APP}.git/info/refs?service=git-receive-pack`, { headers: { authorization: `Bearer ${server.token}` } });
  expect(refs.status).toBe(200);
  expect(refs.headers.get('content-type')).toBe('application/x-git-receive-pack-advertisement');
  expect(await refs.text()).toMatch(/^001f# service=git-receive-pack\n0000[0-9a-f]{4}0{40} capabilities\^\{\}\0/);
  expect((await server.api('GET', `/api/apps/${REFS_APP}`)).status).toBe(404);
  expect(existsSync(path.join(server.dataDir, 'repos', `${REFS_APP}.git`))).toBe(false);

  // A fetch of an unknown app is answered with what to do, and git shows it.
  const lsRemote = await execa('git', ['ls-remote', server.remote(REFS_APP)], { reject: false, env: { GIT_TERMINAL_PROMPT: '0' } });
  expect(lsRemote.exitCode).not.toBe(0);
  expect(lsRemote.stderr).toContain(`remote: There is no app named ${REFS_APP}; create it (slipway apps:create ${REFS_APP}) or push to it.`);
}, 30_000);

const mode = (file: string): string => (statSync(file).mode & 0o7777).toString(8);

test('the data directory is private; storage is writable by a non-root user of the image; modes are restored at start', async () => {
  expect((await server.api('POST', '/api/apps', { name: USER_APP })).status).toBe(201);
  expect((await server.api('POST', `/api/apps/${USER_APP}/storage`, { path: '/data' })).status).toBe(201);
  const app = suite.app({
    Dockerfile: 'FROM slipway/test-busybox:latest\nCOPY . /app\nWORKDIR /app\nUSER 1000:1000\n',
    Procfile: 'web: echo written > /data/probe && exec httpd -f -p 127.0.0.1:$PORT -h /app\n',
  });
  await app.commit('writes to storage as uid 1000');
  const push = await app.push(server.remote(USER_APP));
  expect([push.exitCode, push.remote.filter((line) => /denied|crashed/i.test(line))]).toEqual([0, []]);

  const data = server.dataDir;
  const storage = path.join(data, 'volumes', USER_APP, encodeURIComponent('/data'));
  expect(statSync(path.join(storage, 'probe')).uid).toBe(1000);
  const expected = (): Record<string, string> => ({
    [data]: '700',
    'slipway.db': '600',
    'slipway.db-wal': '600',
    'slipway.db-shm': '600',
    repos: '700',
    [`repos/${USER_APP}.git`]: '700',
    [`repos/${USER_APP}.git/config`]: '600',
    volumes: '700',
    [`volumes/${USER_APP}`]: '700',
    [`volumes/${USER_APP}/${encodeURIComponent('/data')}`]: '777',
  });
  const actual = (): Record<string, string> => Object.fromEntries(Object.keys(expected()).map((f) => [f, mode(path.resolve(data, f))]));
  expect(actual()).toEqual(expected());

  // What an older version or a loose umask left readable is made private again at start.
  await server.crash();
  for (const f of ['slipway.db', 'slipway.db-wal', `repos/${USER_APP}.git/config`]) chmodSync(path.join(data, f), 0o644);
  for (const d of [data, 'repos', `repos/${USER_APP}.git`, 'volumes', `volumes/${USER_APP}`]) chmodSync(path.resolve(data, d), 0o755);
  chmodSync(storage, 0o755);
  await server.restart();
  expect(actual()).toEqual(expected());
  // The app's own files in its storage are left as the app made them.
  expect(mode(path.join(storage, 'probe'))).toBe('644');
}, 180_000);

test('env values with a NUL byte, over 32 KiB, or over 128 KiB together are refused with one sentence; nothing is stored', async () => {
  const rows: [Record<string, string>, string][] = [
    [
      { SECRET: 'abc\u0000def' },
      'the value of SECRET contains a NUL byte, which no process environment can hold; remove it (encode binary data, e.g. in base64)',
    ],
    [
      { BIG: 'x'.repeat(200 * 1024) },
      'the value of BIG is 204800 bytes, over the 32768 a variable may hold; keep larger data in a file (e.g. on storage) and put its path in BIG',
    ],
    [
      Object.fromEntries(['A', 'B', 'C', 'D', 'E'].map((k) => [k, 'x'.repeat(30_000)])),
      "the variables would take 150015 bytes together, over the 131072 an app's environment may take; remove some, or keep large values in files (e.g. on storage)",
    ],
  ];
  for (const [body, message] of rows) {
    expect(await server.api('PATCH', `/api/apps/${STACK_APP}/env`, body)).toEqual({ status: 400, body: { error: 'invalid_env', message } });
  }
  expect((await server.api('GET', `/api/apps/${STACK_APP}/env`)).body).toEqual({});

  // The same for a one-off's own variables, from the CLI.
  const big = await slipway(['run', '-a', STACK_APP, '--no-tty', '-e', `BIG=${'y'.repeat(40_000)}`, '--', 'true']);
  expect([big.exitCode, big.stderr]).toEqual([
    1,
    'slipway: The value of BIG is 40000 bytes, over the 32768 a variable may hold; keep larger data in a file (e.g. on storage) and put its path in BIG.\n',
  ]);
  const detached = await server.api('POST', `/api/apps/${STACK_APP}/run`, { command: 'true', env: { K: 'a\u0000b' } });
  expect(detached.status).toBe(400);
}, 60_000);

test("a value stored before these checks breaks the start, but Docker's error does not show it anywhere", async () => {
  // As an older version stored it: straight into the database, while the server is down.
  await server.crash();
  const db = new Database(path.join(server.dataDir, 'slipway.db'));
  db.prepare('INSERT INTO env (app, key, value) VALUES (?, ?, ?)').run(STACK_APP, 'LEGACY', 'old\u0000secret-value');
  db.close();
  await server.restart();

  const app = stackApp;
  await app.commit('with a broken variable');
  const push = await app.push(server.remote(STACK_APP));
  expect(push.exitCode).not.toBe(0);
  expect(push.output).toContain("environment variable value can't contain null");
  expect(push.output).toContain('"LEGACY=<redacted>"');
  const deployments = await server.api<{ id: number }[]>('GET', `/api/apps/${STACK_APP}/deployments`);
  const log = await server.api<string>('GET', `/api/apps/${STACK_APP}/deployments/${deployments.body[0]!.id}/output`);
  expect(log.body).toContain('"LEGACY=<redacted>"');
  for (const text of [push.output, log.body, server.output()]) expect(text).not.toContain('secret-value');
  expect((await server.api('PATCH', `/api/apps/${STACK_APP}/env`, { LEGACY: null })).status).toBe(200);
}, 120_000);

test('a malformed %-escape in an API path is a 400 with one sentence', async () => {
  expect(await server.api('GET', '/api/apps/%zz/env')).toEqual({
    status: 400,
    body: { error: 'invalid_path', message: 'the path segment "%zz" has a malformed %-escape; write "%" itself as %25' },
  });
  expect((await server.api('GET', '/api/health')).status).toBe(200);
}, 30_000);

/** Sends `head` on a raw connection and resolves with everything the server answers until it closes. */
function rawRequest(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(head);
  });
}

test('a git POST with an empty body is refused at once; one whose body never comes ends after the body timeout', async () => {
  const auth = `Basic ${Buffer.from(`git:${server.token}`).toString('base64')}`;
  const head = (length: number, app = STACK_APP): string =>
    `POST /${app}.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: ${length}\r\n\r\n`;
  const empty = await rawRequest(head(0));
  expect(empty).toMatch(/^HTTP\/1\.1 400 /);
  expect(empty).toContain('The git request has no commands in its body; use git to push or fetch.\n');
  // Nor does such a request create an app: only a push's commands do.
  expect(await rawRequest(head(0, REFS_APP))).toMatch(/^HTTP\/1\.1 400 /);
  expect((await server.api('GET', `/api/apps/${REFS_APP}`)).status).toBe(404);

  // SLIPWAY_GIT_BODY_TIMEOUT=1 for this server.
  const stalled = await rawRequest(head(100));
  expect(stalled).toMatch(/^HTTP\/1\.1 408 /);
  expect(stalled).toContain('The git request sent nothing for 1 s, so Slipway ended it; push (or fetch) again.\n');
  expect((await server.api('GET', '/api/health')).status).toBe(200);
}, 30_000);
