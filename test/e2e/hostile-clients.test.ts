/**
 * Issue 11 against the real server (dist/cli.js): one TCP connection's pipelined flood, and one
 * client address opening more connections than its cap, on the router port and the API/git port.
 */
import net from 'node:net';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
}, 60_000);

afterAll(async () => {
  await server.stop();
}, 60_000);

function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve({ socket, received: () => Buffer.concat(chunks).toString('latin1'), closed });
    });
  });
}

async function healthy(): Promise<boolean> {
  return (await fetch(`${server.url}/api/health`)).ok;
}

test('2 600 pipelined requests in one write: each answered once, and the router, API and git stay up', async () => {
  const client = await connect(server.routerPort);
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2600));
  for (let i = 0; i < 400 && (client.received().match(/HTTP\/1\.1 404 /g)?.length ?? 0) < 2600; i++) await new Promise((r) => setTimeout(r, 50));
  expect(client.received().match(/HTTP\/1\.1 \d{3} /g)?.length).toBe(2600);
  client.socket.destroy();
  expect(await healthy()).toBe(true);
  expect((await fetch(`http://127.0.0.1:${server.routerPort}/`, { headers: { host: 'x' } })).status).toBe(404);
}, 60_000);

test.each([
  ['the API/git port', () => server.port],
  ['the router port', () => server.routerPort],
])(
  'one address gets 256 connections on %s; the next gets 503 and is closed, and the server goes on',
  async (_name, port) => {
    const open = await Promise.all(Array.from({ length: 256 }, () => connect(port())));
    try {
      const refused = await connect(port());
      await refused.closed;
      expect(refused.received()).toMatch(/^HTTP\/1\.1 503 [\s\S]*Too many connections from your address; close some and try again\./);
    } finally {
      for (const c of open) c.socket.destroy();
      await Promise.all(open.map((c) => c.closed));
    }
    // The server counts the closes a moment after the client sees them.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await healthy().catch(() => false);
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ok).toBe(true);
  },
  60_000,
);
