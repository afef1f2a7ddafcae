/**
 * Issue 16: the router's access lines in `slipway logs`, per-app metrics per minute and the
 * Prometheus exposition, from real requests through the real router to a real container.
 */
import http from 'node:http';
import type net from 'node:net';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const NAME = 'metrics-app';
/** What the `mem` process holds in /dev/shm (counted as the container's memory). */
const HELD_MIB = 48;
const SLOW_MS = 1500;

const SERVER_JS = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/slow') return setTimeout(() => res.end('slow'), ${SLOW_MS});
  if (url.pathname === '/fail') { res.writeHead(500); return res.end('failed'); }
  if (url.pathname === '/die') return req.socket.destroy();
  if (url.pathname.startsWith('/bytes/')) return res.end(Buffer.alloc(Number(url.pathname.slice(7)), 'x'));
  req.resume();
  req.on('end', () => { res.writeHead(req.method === 'POST' ? 201 : 200); res.end('ok'); });
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT));
`;

interface LogJson {
  time: string;
  container: string;
  type: string | null;
  line: string;
}

interface Minute {
  minute: number;
  requests: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  bytes: number;
  containers: Record<string, { cpuPercent: number; memoryBytes: number }>;
}

const suite = new ServerSuite([NAME]);
let server: TestServer;
let slipway: CliRunner;

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
  const app = suite.app({
    'server.js': SERVER_JS,
    Procfile: `web: node server.js\nmem: dd if=/dev/zero of=/dev/shm/held bs=1M count=${HELD_MIB} && exec sleep 100000\n`,
  });
  await app.commit('v1');
  const pushed = await app.push(server.remote(NAME));
  if (pushed.exitCode !== 0) throw new Error(`the push failed:\n${pushed.output}`);
  const scaled = await slipway(['scale', 'mem=1', '-a', NAME]);
  if (scaled.exitCode !== 0) throw new Error(`the scale failed:\n${scaled.stdout}${scaled.stderr}`);
}, 240_000);

afterAll(() => suite.stop(), 60_000);

/** One request through the router on a fresh connection; resolves with the status and the body's length. */
function send(method: string, pathname: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; length: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.routerPort, method, path: pathname, headers: { host: `${NAME}.localhost`, ...headers }, agent: false },
      (res) => {
        let length = 0;
        res.on('data', (c: Buffer) => (length += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function routerLines(lines = 10_000): Promise<LogJson[]> {
  const result = await slipway(['logs', '-a', NAME, '--type', 'router', '--lines', String(lines), '--json']);
  expect(result.exitCode).toBe(0);
  return result.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogJson);
}

async function until<T>(get: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `key=value` pairs of an access line (`path` JSON-quoted). */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  return out;
}

const withId = (id: string) => (lines: LogJson[]) => lines.find((l) => l.line.includes(`request_id=${id} `)) !== undefined;

test('known requests are exactly those access lines: method, path without the query, status, bytes, container, request id, client', async () => {
  const sent = [
    { method: 'GET', path: '/bytes/1234?token=secret', status: 200, bytes: 1234, id: 'metrics-test-1' },
    { method: 'POST', path: '/form', status: 201, bytes: 2, id: 'metrics-test-2', body: 'a=1' },
    { method: 'GET', path: '/fail', status: 500, bytes: 6, id: 'metrics-test-3' },
    { method: 'HEAD', path: '/bytes/99', status: 200, bytes: 0, id: 'metrics-test-4' },
    { method: 'DELETE', path: '/thing', status: 200, bytes: 2, id: 'metrics-test-5' },
  ];
  for (const s of sent) {
    const answer = await send(s.method, s.path, s.body, { 'x-request-id': s.id });
    expect([answer.status, answer.length]).toEqual([s.status, s.bytes]);
  }
  // Read once: lines of an app nobody follows reach the server every 10 s, or when someone reads them.
  const lines = await routerLines();
  for (const s of sent) {
    const line = lines.find((l) => l.line.includes(`request_id=${s.id} `));
    expect(line).toMatchObject({ container: 'router', type: 'router' });
    const f = fields(line!.line);
    expect(f).toMatchObject({
      method: s.method,
      path: s.path.split('?')[0],
      status: String(s.status),
      bytes: String(s.bytes),
      container: 'web-1',
      request_id: s.id,
      client: '127.0.0.1',
    });
    expect(Number(f.duration!.replace(/ms$/, ''))).toBeGreaterThan(0);
    expect(line!.line).not.toContain('secret');
  }
  // Exactly one line each, in the order sent, and the human form names the router.
  const ids = lines.map((l) => fields(l.line).request_id).filter((id) => id?.startsWith('metrics-test-'));
  expect(ids).toEqual(sent.map((s) => s.id));
  const human = await slipway(['logs', '-a', NAME, '--type', 'router', '--lines', '1']);
  expect(human.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z router: method=DELETE path="\/thing" status=200 /);
}, 60_000);

test('a WebSocket shows with status 101 and its duration once it closes; a request the app drops shows as a 502', async () => {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: server.routerPort,
      path: '/ws',
      headers: { host: `${NAME}.localhost`, connection: 'Upgrade', upgrade: 'websocket', 'x-request-id': 'metrics-ws' },
    });
    req.on('upgrade', (_res, s: net.Socket) => resolve(s));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  const echoed = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
  socket.write('ping');
  expect(await echoed).toBe('ping');
  await new Promise((resolve) => setTimeout(resolve, 300));
  socket.destroy();
  // POST is not retried: the app closing the connection unanswered is the client's 502.
  expect((await send('POST', '/die', 'x', { 'x-request-id': 'metrics-502' })).status).toBe(502);

  const lines = await until(routerLines, (l) => withId('metrics-ws')(l) && withId('metrics-502')(l), 'the WebSocket and the 502');
  const ws = fields(lines.find((l) => l.line.includes('request_id=metrics-ws '))!.line);
  expect(ws).toMatchObject({ method: 'GET', path: '/ws', status: '101', container: 'web-1', upgrade: '1' });
  expect(Number(ws.duration!.replace(/ms$/, ''))).toBeGreaterThanOrEqual(300);
  expect(Number(ws.bytes)).toBeGreaterThan(4); // the 101 and the echo
  expect(fields(lines.find((l) => l.line.includes('request_id=metrics-502 '))!.line)).toMatchObject({
    method: 'POST',
    path: '/die',
    status: '502',
    container: 'web-1',
  });
}, 60_000);

test('logs --type router --follow prints new requests as they happen', async () => {
  const { child, lines } = suite.spawnCli(['logs', '-a', NAME, '--type', 'router', '--follow', '--lines', '1']);
  // The backlog's one line first: the follow is open.
  await until(
    async () => lines.length,
    (n) => n > 0,
    'the backlog line',
  );
  for (let i = 1; i <= 3; i++) await send('GET', `/live/${i}`, undefined, { 'x-request-id': `metrics-live-${i}` });
  await until(
    async () => lines,
    (l) => l.some((line) => line.includes('request_id=metrics-live-3 ')),
    'the live lines',
  );
  const live = lines.filter((l) => l.includes('request_id=metrics-live-'));
  expect(live.map((l) => fields(l.slice(l.indexOf(': ') + 2)).path)).toEqual(['/live/1', '/live/2', '/live/3']);
  child.kill('SIGTERM');
}, 60_000);

test('metrics count the 200s and 500s sent, their latency percentiles and buckets; /metrics parses and needs a token', async () => {
  const before = await totals();
  const FAST = 20;
  const SLOW = 4;
  const FAILED = 7;
  for (let i = 0; i < FAST; i++) expect((await send('GET', `/ok/${i}`)).status).toBe(200);
  await Promise.all(Array.from({ length: SLOW }, async () => expect((await send('GET', '/slow')).status).toBe(200)));
  for (let i = 0; i < FAILED; i++) expect((await send('GET', '/fail')).status).toBe(500);

  const after = await until(
    totals,
    (t) => t['2xx'] === before['2xx'] + FAST + SLOW && t['5xx'] === before['5xx'] + FAILED,
    'the metrics to count the requests',
    30_000,
  );
  expect(after['4xx']).toBe(before['4xx']);
  // The slow ones are the top 4 of this minute's requests at least: p99 is theirs.
  const minutes = await metrics();
  const p99 = Math.max(...minutes.map((m) => m.p99Ms ?? 0));
  expect(p99).toBeGreaterThanOrEqual(SLOW_MS * 0.95);

  // Prometheus: parsed by a real text-format parser; the same counts, the slow ones above 1 s.
  const refused = await fetch(`${server.url}/metrics`);
  expect(refused.status).toBe(401);
  expect(await refused.text()).toContain('token');
  const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  expect(wrong.status).toBe(401);
  const scraped = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
  expect(scraped.status).toBe(200);
  expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = await parsePrometheus(await scraped.text());
  const value = (name: string, labels: Record<string, string>): number | undefined => sampleValue(samples, name, labels);
  expect(value('slipway_router_requests_total', { app: NAME, status_class: '2xx' })).toBe(after['2xx']);
  expect(value('slipway_router_requests_total', { app: NAME, status_class: '5xx' })).toBe(after['5xx']);
  expect(value('slipway_router_upstream_errors_total', { app: NAME, status: '502' })).toBeGreaterThanOrEqual(1);
  // Every 2xx but the slow ones took under a second (the WebSocket is a 1xx, and not timed).
  const timed = { app: NAME, status_class: '2xx' };
  const count = value('slipway_router_request_duration_seconds_count', timed)!;
  expect(count).toBe(after['2xx']);
  expect(count - value('slipway_router_request_duration_seconds_bucket', { ...timed, le: '1' })!).toBe(SLOW);
  expect(value('slipway_router_request_duration_seconds_bucket', { ...timed, le: '2.5' })).toBe(count);
  expect(value('slipway_deployments_total', { app: NAME, status: 'success' })).toBe(1);
  expect(samples.some((s) => s.family === 'slipway_deploy_phase_duration_seconds' && s.name.endsWith('_count') && s.value > 0)).toBe(true);
  expect(value('slipway_server_process_resident_memory_bytes', {})).toBeGreaterThan(10 * 2 ** 20);
}, 120_000);

test("a container's memory is reported: the one holding 48 MiB shows about that much, in the API and slipway metrics", async () => {
  const minutes = await until(
    metrics,
    (ms) => ms.some((m) => m.containers['mem-1'] !== undefined && m.containers['web-1'] !== undefined),
    'a sample of the containers',
    90_000,
  );
  const sample = [...minutes].reverse().find((m) => m.containers['mem-1'] !== undefined)!.containers['mem-1']!;
  expect(sample.memoryBytes).toBeGreaterThanOrEqual(HELD_MIB * 2 ** 20);
  expect(sample.memoryBytes).toBeLessThan((HELD_MIB + 16) * 2 ** 20);
  const scraped = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
  const memory = sampleValue(await parsePrometheus(await scraped.text()), 'slipway_container_memory_bytes', { app: NAME, container: 'mem-1' });
  expect(memory).toBeGreaterThanOrEqual(HELD_MIB * 2 ** 20);
  const shown = await slipway(['metrics', '-a', NAME, '--since', '10m']);
  expect(shown.exitCode).toBe(0);
  expect(shown.stdout).toMatch(/mem-1 memory\s+\S+\s+last \d+\.\d MiB/);
  expect(shown.stdout).toMatch(/requests\/min\s+[▁▂▃▄▅▆▇█]+/);
  expect((await slipway(['metrics', '-a', NAME, '--since', 'yesterday'])).stderr).toContain('--since takes minutes or hours');
}, 120_000);

test('the metrics survive a server restart (persisted minutes)', async () => {
  const before = await totals();
  await server.restart();
  const after = await totals();
  expect(after).toEqual(before);
}, 120_000);

async function metrics(): Promise<Minute[]> {
  const res = await server.api<{ minutes: Minute[] }>('GET', `/api/apps/${NAME}/metrics?since=1h`);
  expect(res.status).toBe(200);
  return res.body.minutes;
}

async function totals(): Promise<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>> {
  const out: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  for (const m of await metrics()) for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] += m.requests[k] ?? 0;
  return out;
}
