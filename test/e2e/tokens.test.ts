import { readFileSync } from 'node:fs';
import path from 'node:path';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { startGate } from '../support/http.js';
import { ServerSuite, type TestServer } from '../support/server.js';

const suite = new ServerSuite(['token-app']);
let server: TestServer;

beforeAll(async () => {
  ({ server } = await suite.start());
}, 60_000);

afterAll(() => suite.stop(), 60_000);

async function createToken(name: string): Promise<string> {
  const res = await server.api<{ name: string; token: string }>('POST', '/api/tokens', { name });
  expect(res.status).toBe(201);
  return res.body.token;
}

function withToken(token: string, method: string, pathname: string): Promise<Response> {
  return fetch(`${server.url}${pathname}`, { method, headers: { authorization: `Bearer ${token}` } });
}

test('named tokens: shown once, stored hashed, recorded on deployments, refused the moment they are revoked', async () => {
  const ci = await createToken('ci');
  expect(ci).toMatch(/^slw_/);
  expect((await server.api('GET', '/api/tokens')).body).toEqual([{ name: 'ci', createdAt: expect.any(String) }]);
  expect((await server.api('POST', '/api/tokens', { name: 'ci' })).status).toBe(409);
  // Only the admin manages tokens.
  expect((await withToken(ci, 'GET', '/api/tokens')).status).toBe(403);
  // Only the hash is on disk.
  const db = readFileSync(path.join(server.dataDir, 'slipway.db'));
  const wal = readFileSync(path.join(server.dataDir, 'slipway.db-wal'));
  expect(db.includes(ci) || wal.includes(ci)).toBe(false);

  const app = suite.app(busyboxApp({ web: WEB }));
  await app.commit('by ci');
  expect((await app.push(server.remote('token-app', ci))).exitCode).toBe(0);
  const [deployment] = (await server.api<{ pushedBy: string }[]>('GET', '/api/apps/token-app/deployments')).body;
  expect(deployment!.pushedBy).toBe('ci');

  expect((await server.api('DELETE', '/api/tokens/ci')).status).toBe(200);
  expect((await withToken(ci, 'GET', '/api/apps')).status).toBe(401);
  await app.commit('after revoke', { 'index.html': 'after\n' });
  const refused = await app.push(server.remote('token-app', ci));
  expect(refused.exitCode).not.toBe(0);
  expect(refused.output).toContain('Authentication failed');
  expect((await server.api('DELETE', '/api/tokens/ci')).status).toBe(404);
}, 120_000);

test('a token revoked while its push waits in the queue does not deploy', async () => {
  const late = await createToken('late');
  const gate = await startGate();
  try {
    const first = suite.app(busyboxApp({ web: WEB, postdeploy: `echo holding; wget -q -O /dev/null http://127.0.0.1:${gate.port}/` }));
    const second = suite.app(busyboxApp({ web: WEB }, { 'index.html': 'second\n' }));
    await first.commit('holds the queue');
    await second.commit('waits');

    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const firstPush = first.push(server.remote('token-app'), 'main', {
      args: ['--force'],
      onRemoteLine: (line) => line === 'holding' && holding(),
    });
    await held;
    let queued!: () => void;
    const isQueued = new Promise<void>((resolve) => (queued = resolve));
    const secondPush = second.push(server.remote('token-app', late), 'main', {
      args: ['--force'],
      onRemoteLine: (line) => line.includes('is queued') && queued(),
    });
    await isQueued;
    expect((await server.api('DELETE', '/api/tokens/late')).status).toBe(200);
    gate.release();

    expect((await firstPush).exitCode).toBe(0);
    const result = await secondPush;
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain('(aborted)');
    expect(result.remote.join('\n')).toContain('The token "late" that pushed deployment');
  } finally {
    gate.close();
  }
}, 120_000);

test('env values never appear in deploy output or server logs', async () => {
  const secret = 'sup3r-s3cret-value-42';
  expect((await server.api('PATCH', '/api/apps/token-app/env', { API_KEY: secret })).status).toBe(200);
  const app = suite.app(busyboxApp({ web: WEB, postdeploy: 'test -n "$API_KEY" && echo "the hook has its key"' }));
  await app.commit('secret');
  const result = await app.push(server.remote('token-app'), 'main', { args: ['--force'] });
  expect(result.exitCode).toBe(0);
  expect(result.remote).toContain('the hook has its key');
  expect(result.output).not.toContain(secret);
  const [latest] = (await server.api<{ id: number }[]>('GET', '/api/apps/token-app/deployments')).body;
  const output = await server.api<string>('GET', `/api/apps/token-app/deployments/${latest!.id}/output`);
  expect(output.body).not.toContain(secret);
  expect(server.output()).not.toContain(secret);
}, 120_000);
