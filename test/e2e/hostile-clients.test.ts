/**
 * Issue 11 against the real server (dist/cli.js): one TCP connection's pipelined flood, and one
 * client address opening more connections than its cap, on the router port and the API/git port;
 * and (issue 14) on the HTTPS port, connections that never start their TLS handshake.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ServerSuite, type TestServer } from '../support/server.js';
import { TestCa } from '../support/test-ca.js';

const suite = new ServerSuite();
let server: TestServer;
let ca: TestCa;
let httpsPort: number;

beforeAll(async () => {
  ca = new TestCa();
  const fallback = ca.issue(['*.localhost', 'hostile.localhost']);
  ({ server } = await suite.start({
    https: true,
    env: { SLIPWAY_TLS_CERT: ca.file('default.pem', fallback.cert), SLIPWAY_TLS_KEY: ca.file('default.key', fallback.key) },
  }));
  httpsPort = server.httpsPort!;
}, 60_000);

afterAll(async () => {
  await suite.stop();
  ca?.remove();
}, 60_000);

function connect(port: number, localAddress?: string): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
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

/** A TLS client's request for `/` on the HTTPS port, from `localAddress`: the status line it gets. */
function httpsStatusLine(localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tcp = net.connect({ host: '127.0.0.1', port: httpsPort, localAddress });
    const socket = tls.connect({ socket: tcp, servername: 'hostile.localhost', ca: ca.cert, ALPNProtocols: ['http/1.1'] });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nHost: hostile.localhost\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('end', () => resolve(received.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

test('on the HTTPS port, 256 connections that never send a ClientHello fill one address’s cap before any handshake; the next is closed at once; other addresses are served; the handshake timeout closes them all', async () => {
  // From an address of their own: the router port's test above may still be counted for a moment on 127.0.0.1.
  const flooder = '127.0.0.3';
  const open = await Promise.all(Array.from({ length: 256 }, () => connect(httpsPort, flooder)));
  try {
    let stillOpen = 0;
    void Promise.all(open.map((c) => c.closed.then(() => stillOpen--)));
    stillOpen = open.length;
    const refused = await connect(httpsPort, flooder);
    await refused.closed;
    // Closed at once, not by the handshake timeout: the 256 opened before it are all still open.
    expect(stillOpen).toBe(256);
    // Nothing can be said in HTTP before a TLS handshake: the connection is closed without a word.
    expect(refused.received()).toBe('');
    // Another address is not held up by them.
    expect(await httpsStatusLine('127.0.0.2')).toBe('HTTP/1.1 404 Not Found');
    // The router's TLS handshake timeout (10 s) closes every silent connection.
    await Promise.all(open.map((c) => c.closed));
    expect(open.every((c) => c.received() === '')).toBe(true);
  } finally {
    for (const c of open) c.socket.destroy();
  }
  // With the connections gone, the address is served again (the router counts the closes a moment after the client sees them).
  let line = '';
  for (let i = 0; i < 50 && line !== 'HTTP/1.1 404 Not Found'; i++) {
    line = await httpsStatusLine(flooder).catch((error: Error) => error.message);
    if (line !== 'HTTP/1.1 404 Not Found') await new Promise((r) => setTimeout(r, 50));
  }
  expect(line).toBe('HTTP/1.1 404 Not Found');
}, 60_000);
