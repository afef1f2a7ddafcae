import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeProbe, probe } from '../../src/health/probe.js';

let server: http.Server;
let port: number;
const hosts: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    if (req.url === '/up') res.writeHead(204).end();
    else if (req.url === '/moved') res.writeHead(302, { location: '/up' }).end();
    else if (req.url === '/down') res.writeHead(500).end('\n  database unreachable  \nstack trace\n');
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const agent = (): http.Agent => new http.Agent({ keepAlive: true, maxSockets: 1 });
const check = (path: string, timeoutMs = 1000) => ({ path, host: 'my-app.localhost', timeoutMs });

test('2xx and 3xx are healthy; the app sees its own Host', async () => {
  const a = agent();
  expect(await probe(port, check('/up'), a)).toMatchObject({ healthy: true, status: 204 });
  expect(await probe(port, check('/moved'), a)).toMatchObject({ healthy: true, status: 302 });
  expect(hosts.slice(-2)).toEqual(['my-app.localhost', 'my-app.localhost']);
  a.destroy();
});

test('anything else is unhealthy, described by its status and first body line, or why no answer came', async () => {
  const a = agent();
  const down = await probe(port, check('/down'), a);
  expect(down).toEqual({ healthy: false, status: 500, detail: 'database unreachable' });
  expect(describeProbe(down)).toBe('HTTP 500 "database unreachable"');
  const slow = await probe(port, check('/slow', 100), a);
  expect(slow).toMatchObject({ healthy: false, status: null, detail: 'timed out after 0.1 s' });
  a.destroy();
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  expect(describeProbe(await probe(closedPort, check('/up'), agent()))).toBe('no answer (connection refused)');
});
