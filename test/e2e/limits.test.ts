import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { ServerSuite, type TestServer } from '../support/server.js';

/** Runaway apps and oversized input: bounded, visible, and refused with a message. */

const suite = new ServerSuite(['loop-app', 'big-app', 'binary-app', 'loud-limits-app']);
let server: TestServer;

beforeAll(async () => {
  ({ server } = await suite.start({ env: { SLIPWAY_MAX_PUSH_MB: '1' } }));
}, 60_000);

afterAll(() => suite.stop(), 60_000);

interface Process {
  name: string;
  type: string;
  deployment: number;
  state: string;
  restartCount: number;
}

test('a web process that keeps crashing after boot is restarted with backoff, and ps shows it', async () => {
  // It answers long enough to pass the boot check, then exits: a crash loop at runtime.
  const app = suite.app(busyboxApp({ web: `httpd -p 127.0.0.1:$PORT -h /app; sleep 1; exit 3` }));
  await app.commit('crash loop');
  expect((await app.push(server.remote('loop-app'))).exitCode).toBe(0);

  let web: Process | undefined;
  for (let i = 0; i < 80 && (web?.restartCount ?? 0) < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    [web] = (await server.api<Process[]>('GET', '/api/apps/loop-app/ps')).body;
  }
  expect(web).toMatchObject({ name: 'web-1', type: 'web', deployment: 1 });
  expect(web!.restartCount).toBeGreaterThanOrEqual(2);
  const [deployment] = (await server.api<{ status: string }[]>('GET', '/api/apps/loop-app/deployments')).body;
  expect(deployment!.status).toBe('success');
}, 60_000);

test('a push larger than the server allows is refused before anything is stored', async () => {
  const app = suite.app(busyboxApp({ web: WEB }, { 'big.bin': randomBytes(3 * 1024 * 1024).toString('base64') }));
  await app.commit('too big');
  const result = await app.push(server.remote('big-app'));
  expect(result.exitCode).not.toBe(0);
  expect(result.output).toContain('pack exceeds maximum allowed size');
  // git stopped reading mid-request: the server must shrug that off, not crash.
  expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  expect((await server.api<unknown[]>('GET', '/api/apps/big-app/deployments')).body).toEqual([]);
}, 60_000);

test('binary output from a hook does not break the stream', async () => {
  const app = suite.app(busyboxApp({ web: WEB, postdeploy: 'head -c 200000 /dev/urandom; echo; echo after-binary' }));
  await app.commit('binary');
  const result = await app.push(server.remote('binary-app'));
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('after-binary');
  expect(result.remote.at(-1)).toMatch(/^-----> Deployment 1 succeeded/);
}, 60_000);

test('a hook that prints 100 MB keeps the server under 512 MB of memory, and the client gets the end', async () => {
  const app = suite.app(
    busyboxApp({
      web: WEB,
      postdeploy: 'yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c 100000000; echo; echo hook-finished',
    }),
  );
  await app.commit('very loud');
  let peakKb = 0;
  const sample = (): void => {
    const status = readFileSync(`/proc/${server.pid()}/status`, 'utf8');
    peakKb = Math.max(peakKb, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
  };
  const sampler = setInterval(sample, 50);
  try {
    const result = await app.push(server.remote('loud-limits-app'));
    expect(result.exitCode).toBe(0);
    expect(result.remote.at(-1)).toMatch(/^-----> Deployment 1 succeeded/);
  } finally {
    clearInterval(sampler);
  }
  expect(peakKb).toBeGreaterThan(0);
  expect(peakKb).toBeLessThan(512 * 1024);
}, 120_000);
