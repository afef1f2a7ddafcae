/**
 * Issue 12, "drain ends": a WebSocket open to the old release must not hold a push for the whole
 * drain timeout. The router closes it at once when the old container is retired, and the
 * client's reconnect reaches the new release. Real server, real Docker, real HTTP upgrade.
 */
import http from 'node:http';
import type net from 'node:net';
import type { TestApp } from '../support/app.js';
import { ServerSuite, type TestServer } from '../support/server.js';

const NAME = 'drain-ws';
/** Far beyond this file's test timeout: a push that waited for it would fail the test. */
const DRAIN_TIMEOUT_S = 600;

const SERVER_JS = `
const http = require('node:http');
const release = process.env.RELEASE;
const server = http.createServer((req, res) => res.end('release ' + release + '\\n'));
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nX-Release: ' + release + '\\r\\n\\r\\n');
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT));
`;

const suite = new ServerSuite([NAME]);
let server: TestServer;
let app: TestApp;

beforeAll(async () => {
  ({ server } = await suite.start({ env: { SLIPWAY_DRAIN_TIMEOUT: String(DRAIN_TIMEOUT_S) } }));
  app = suite.app({ 'server.js': SERVER_JS });
}, 60_000);

afterAll(() => suite.stop(), 120_000);

function openSocket(): Promise<{ release: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: server.routerPort,
      path: '/ws',
      headers: { host: `${NAME}.localhost`, connection: 'Upgrade', upgrade: 'websocket' },
    });
    req.on('upgrade', (res: http.IncomingMessage, socket: net.Socket) => resolve({ release: String(res.headers['x-release']), socket }));
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

test('a push while a WebSocket is open to the old release completes (no drain timeout), the router closes it, and the reconnect reaches the new release', async () => {
  await app.commit('one', { Procfile: 'web: RELEASE=one node server.js\n' });
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  const first = await openSocket();
  expect(first.release).toBe('one');
  let closedByServer = false;
  const closed = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));
  first.socket.once('end', () => (closedByServer = true));
  // The tunnel carries bytes both ways before the push.
  const echoed = new Promise<string>((resolve) => first.socket.once('data', (d: Buffer) => resolve(d.toString())));
  first.socket.write('ping');
  expect(await echoed).toBe('ping');

  await app.commit('two', { Procfile: 'web: RELEASE=two node server.js\n' });
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).toBe(0);
  await closed;
  expect(closedByServer).toBe(true);

  const second = await openSocket();
  expect(second.release).toBe('two');
  second.socket.destroy();
}, 240_000);
