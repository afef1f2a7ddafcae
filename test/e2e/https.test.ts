/**
 * Issue 14, HTTPS serving: the router terminates TLS on --https-port for every app, with uploaded
 * certificates chosen by SNI and the server-wide default certificate, HTTP/2, WebSockets,
 * forceHttps and hsts; certificates survive restarts of the server and of the router process;
 * no HTTPS request fails across a deploy and a failing hook. Real server, real Docker, real TLS
 * clients that trust only a CA made for this run.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { TestApp } from '../support/app.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';
import { TestCa } from '../support/test-ca.js';

const NAME = 'tls-shop';
const DOMAIN = 'www.tls-shop.test';

const SERVER_JS = `
const http = require('node:http');
const release = process.env.RELEASE;
// Responses the router abandoned (its client went away) before they were finished.
let abandoned = 0;
const held = [];
const server = http.createServer((req, res) => {
  const stream = /^\\/stream\\?chunks=(\\d+)$/.exec(req.url);
  if (stream) {
    // A slow response: a chunk every 100 ms, then the release.
    const chunks = Number(stream[1]);
    let sent = 0;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => {
      if (sent === chunks) {
        clearInterval(timer);
        res.end('done ' + release + '\\n');
      } else res.write('chunk ' + sent++ + '\\n');
    }, 100);
    res.on('close', () => {
      clearInterval(timer);
      if (!res.writableFinished) abandoned++;
    });
    return;
  }
  if (req.url === '/abandoned') return res.end(String(abandoned));
  // A response held open until /let-go is asked for.
  if (req.url === '/hold') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('held\\n');
    held.push(res);
    return;
  }
  if (req.url === '/let-go') {
    for (const h of held.splice(0)) h.end('done ' + release + '\\n');
    return res.end('let go\\n');
  }
  res.end('release ' + release + ' proto ' + req.headers['x-forwarded-proto'] + ' host ' + req.headers.host + '\\n');
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nX-Proto: ' + req.headers['x-forwarded-proto'] + '\\r\\n\\r\\n');
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT));
`;

const suite = new ServerSuite([NAME]);
let ca: TestCa;
let server: TestServer;
let app: TestApp;
let httpsPort: number;
let cli: CliRunner;

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** The CN of the certificate the router presented. */
  cn: string;
}

function httpsGet(host: string, pathname = '/', agent: https.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: httpsPort, path: pathname, servername: host, headers: { host }, ca: ca.cert, agent }, (res) => {
      const cn = (res.socket as tls.TLSSocket).getPeerCertificate().subject.CN;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, cn: String(cn) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`https://${host}${pathname} timed out`)));
  });
}

function httpGet(host: string, pathname: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.routerPort, path: pathname, headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      })
      .on('error', reject);
  });
}

interface H2Reply {
  status: number;
  body: string;
}

/** An HTTP/2 session to the router's HTTPS port (ALPN h2), for DOMAIN. */
function h2Connect(): http2.ClientHttp2Session {
  const client = http2.connect(`https://${DOMAIN}:${httpsPort}`, {
    ca: ca.cert,
    lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never, 4),
  });
  // A session's errors reach its streams, which the tests read.
  client.on('error', () => undefined);
  return client;
}

/** One GET stream on `client`; `onFirstData` is called when the first bytes of the body arrive. */
function h2Get(client: http2.ClientHttp2Session, pathname: string, onFirstData?: () => void): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':path': pathname });
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      if (body === '') onFirstData?.();
      body += c;
    });
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
    stream.setTimeout(20_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('close', () => reject(new Error(`${pathname}: the stream closed (code ${stream.rstCode ?? 'none'}) after ${JSON.stringify(body)}`)));
    stream.end();
  });
}

/** The body of /stream?chunks=N from `release`. */
function streamed(chunks: number, release: string): string {
  return Array.from({ length: chunks }, (_, i) => `chunk ${i}\n`).join('') + `done ${release}\n`;
}

beforeAll(async () => {
  ca = new TestCa();
  // Node's clients accept no wildcard right under a one-label domain: the app's name is listed too.
  const fallback = ca.issue(['*.localhost', `${NAME}.localhost`]);
  // Two router processes: every certificate change must reach the worker too.
  ({ server, slipway: cli } = await suite.start({
    https: true,
    env: { SLIPWAY_ROUTER_WORKERS: '2', SLIPWAY_TLS_CERT: ca.file('default.pem', fallback.cert), SLIPWAY_TLS_KEY: ca.file('default.key', fallback.key) },
  }));
  httpsPort = server.httpsPort!;
  app = suite.app({ 'server.js': SERVER_JS });
  await app.commit('one', { Procfile: 'web: RELEASE=one node server.js\n' });
  const pushed = await app.push(server.remote(NAME));
  if (pushed.exitCode !== 0) throw new Error(pushed.output);
  expect((await cli(['domains:add', DOMAIN, '-a', NAME])).exitCode).toBe(0);
}, 300_000);

afterAll(async () => {
  await suite.stop();
  ca?.remove();
}, 120_000);

test('uploads that cannot be served are refused in one sentence: wrong key, expired, not yet valid, none of the app’s domains', async () => {
  const good = ca.issue([DOMAIN]);
  const other = ca.issue([DOMAIN]);
  const expired = ca.issue([DOMAIN], { startDays: -30, endDays: -1 });
  const future = ca.issue([DOMAIN], { startDays: 3, endDays: 30 });
  const elsewhere = ca.issue(['www.somebody-else.test']);
  const add = (cert: string, key: string) => cli(['certs:add', ca.file('c.pem', cert), ca.file('k.pem', key), '-a', NAME]);

  const wrongKey = await add(good.cert, other.key);
  expect(wrongKey.exitCode).toBe(1);
  expect(wrongKey.stderr).toBe('slipway: The key does not match the certificate; pass the private key this certificate was issued for.\n');
  expect((await add(expired.cert, expired.key)).stderr).toMatch(/^slipway: The certificate expired on \S+; renew it, then upload the new one\.\n$/);
  expect((await add(future.cert, future.key)).stderr).toMatch(
    /^slipway: The certificate is not valid before \S+; upload it once it is \(or check this machine's clock\)\.\n$/,
  );
  expect((await add(elsewhere.cert, elsewhere.key)).stderr).toBe(
    `slipway: The certificate covers www.somebody-else.test, none of the app's domains (${NAME}.localhost, ${DOMAIN}); add the domain first (slipway domains:add) or upload its certificate.\n`,
  );
  // Nothing was stored: the domain is still served with the default certificate.
  const certs = JSON.parse((await cli(['certs', '-a', NAME, '--json'])).stdout) as { domain: string; source: string }[];
  expect(certs.map((c) => [c.domain, c.source])).toEqual([
    [`${NAME}.localhost`, 'default'],
    [DOMAIN, 'none'],
  ]);
}, 60_000);

test('an uploaded certificate serves the custom domain with the app’s page; the app is told https; certs lists it', async () => {
  const { cert, key } = ca.issue([DOMAIN]);
  const added = await cli(['certs:add', ca.file('good.pem', cert + ca.cert), ca.file('good.key', key), '-a', NAME]);
  expect(added.stderr).toBe('');
  expect(added.stdout).toBe(`HTTPS for ${DOMAIN} now uses the uploaded certificate, from the next connection on.\n`);
  const reply = await httpsGet(DOMAIN, '/');
  expect(reply).toMatchObject({ status: 200, body: `release one proto https host ${DOMAIN}\n`, cn: DOMAIN });
  // <app>.<domain> has the server-wide default certificate (*.localhost).
  expect(await httpsGet(`${NAME}.localhost`)).toMatchObject({ status: 200, cn: '*.localhost' });

  const listed = await cli(['certs', '-a', NAME]);
  expect(listed.stdout).toMatch(new RegExp(`${DOMAIN.replace(/\./g, '\\.')}\\s+uploaded\\s+Slipway Test CA\\s+\\d{4}-\\d\\d-\\d\\d \\((29|30) days\\)`));
  expect(listed.stdout).toMatch(new RegExp(`${NAME}\\.localhost\\s+default\\s+Slipway Test CA`));
}, 60_000);

test('a wildcard certificate covers one label of a custom domain', async () => {
  expect((await cli(['domains:add', 'shop.wild-tls.test', '-a', NAME])).exitCode).toBe(0);
  const { cert, key } = ca.issue(['*.wild-tls.test']);
  expect((await cli(['certs:add', ca.file('w.pem', cert), ca.file('w.key', key), '-a', NAME])).exitCode).toBe(0);
  expect(await httpsGet('shop.wild-tls.test')).toMatchObject({ status: 200, cn: '*.wild-tls.test' });
  const removed = await cli(['certs:remove', 'shop.wild-tls.test', '-a', NAME]);
  expect(removed.stdout).toBe(`${NAME} no longer serves its certificate for shop.wild-tls.test.\n`);
  // Without it, the default certificate is offered, which does not cover the name: the client refuses.
  await expect(httpsGet('shop.wild-tls.test')).rejects.toThrow(/altnames|does not match/i);
  expect((await cli(['domains:remove', 'shop.wild-tls.test', '-a', NAME])).exitCode).toBe(0);
}, 60_000);

test('forceHttps answers 308 to the same URL on HTTPS except ACME challenges; hsts adds Strict-Transport-Security', async () => {
  expect((await cli(['settings:set', 'forceHttps=true', 'hsts=true', '-a', NAME])).exitCode).toBe(0);
  expect(await httpGet(DOMAIN, '/a/b?c=d')).toEqual({ status: 308, location: `https://${DOMAIN}:${httpsPort}/a/b?c=d` });
  expect((await httpGet(DOMAIN, '/.well-known/acme-challenge/unknown-token')).status).toBe(404);
  expect((await httpsGet(DOMAIN, '/')).headers['strict-transport-security']).toBe('max-age=31536000');
  expect((await cli(['settings:unset', 'forceHttps', 'hsts', '-a', NAME])).exitCode).toBe(0);
  expect((await httpGet(DOMAIN, '/')).status).toBe(200);
  expect((await httpsGet(DOMAIN, '/')).headers['strict-transport-security']).toBeUndefined();
}, 60_000);

test('a WebSocket over TLS reaches the app and echoes', async () => {
  const socket = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: DOMAIN, ca: ca.cert, ALPNProtocols: ['http/1.1'] });
  try {
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    const deadline = Date.now() + 10_000;
    while (!received.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(received).toContain('X-Proto: https');
    received = '';
    socket.write('ping over tls');
    while (received !== 'ping over tls' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).toBe('ping over tls');
  } finally {
    socket.destroy();
  }
}, 30_000);

test('HTTP/2 (node:http2 client, ALPN h2) gets the app’s page', async () => {
  const client = h2Connect();
  try {
    const reply = await h2Get(client, '/h2');
    expect((client.socket as tls.TLSSocket).alpnProtocol).toBe('h2');
    expect(reply).toEqual({ status: 200, body: `release one proto https host ${DOMAIN}:${httpsPort}\n` });
  } finally {
    client.close();
  }
}, 30_000);

test('an HTTP/2 stream reset mid-response abandons its upstream request, whose connection is not reused; the session’s other streams go on', async () => {
  const client = h2Connect();
  try {
    const before = Number((await h2Get(client, '/abandoned')).body);
    // A response of 100 s, reset (RST_STREAM, CANCEL) by the client once its first chunk has arrived.
    const first = await new Promise<string>((resolve, reject) => {
      const stream = client.request({ ':path': '/stream?chunks=1000' });
      stream.setEncoding('utf8');
      stream.once('data', (c: string) => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        resolve(c);
      });
      stream.on('error', reject);
      stream.end();
    });
    expect(first).toBe('chunk 0\n');
    // Had the half-read upstream connection gone back to the pool, these would read its chunks or wait behind it.
    const page = { status: 200, body: `release one proto https host ${DOMAIN}:${httpsPort}\n` };
    const replies = await Promise.all(Array.from({ length: 20 }, () => h2Get(client, '/after-reset')));
    expect(replies).toEqual(Array.from({ length: 20 }, () => page));
    // The app sees its response abandoned: the router closed that upstream connection.
    let abandoned = before;
    for (let i = 0; i < 100 && abandoned === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      abandoned = Number((await h2Get(client, '/abandoned')).body);
    }
    expect(abandoned).toBe(before + 1);
    expect(client.destroyed).toBe(false);
    expect(await h2Get(client, '/stream?chunks=3')).toEqual({ status: 200, body: streamed(3, 'one') });
  } finally {
    client.close();
  }
}, 60_000);

test('no HTTPS request fails across a deploy and a failing hook under keep-alive load', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const releases = new Map<string, number>();
  let running = true;
  let sent = 0;
  // One HTTP/2 session all along: short streams and slow ones (1 s) at once, 6 streams in flight.
  const h2 = h2Connect();
  const h2Failures: string[] = [];
  const h2Releases = new Map<string, number>();
  let twoServed = false;
  const h2Loops = Array.from({ length: 6 }, async (_, loop) => {
    const slow = loop < 2;
    while (running) {
      // Once a stream got the new release, every stream opened later must get it too.
      const afterTwo = twoServed;
      try {
        const reply = await h2Get(h2, slow ? '/stream?chunks=10' : '/');
        const release = (slow ? /done (\w+)\n$/.exec(reply.body)?.[1] : reply.body.split(' ')[1]) ?? '';
        const expected = slow ? streamed(10, release) : `release ${release} proto https host ${DOMAIN}:${httpsPort}\n`;
        if (reply.status !== 200 || reply.body !== expected) h2Failures.push(`HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
        if (release === 'two') twoServed = true;
        else if (afterTwo) h2Failures.push(`release ${release} after release two`);
        h2Releases.set(release, (h2Releases.get(release) ?? 0) + 1);
      } catch (error) {
        h2Failures.push((error as Error).message);
      }
    }
  });
  const loops = Array.from({ length: 4 }, async () => {
    while (running && sent < 100_000) {
      sent++;
      try {
        const reply = await httpsGet(DOMAIN, '/', agent);
        if (reply.status !== 200) failures.push(`HTTP ${reply.status}`);
        const release = reply.body.split(' ')[1] ?? '';
        releases.set(release, (releases.get(release) ?? 0) + 1);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  });
  try {
    await app.commit('two', { Procfile: 'web: RELEASE=two node server.js\n' });
    expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
    await app.commit('bad hook', { Procfile: 'web: RELEASE=bad node server.js\npostdeploy: exit 1\n' });
    expect((await app.push(server.remote(NAME))).output).toContain('(hook-error)');
  } finally {
    running = false;
    await Promise.all([...loops, ...h2Loops]);
    agent.destroy();
    h2.close();
  }
  expect(failures).toEqual([]);
  expect(releases.get('bad')).toBeUndefined();
  expect(releases.get('two')).toBeGreaterThan(0);
  expect(h2Failures).toEqual([]);
  expect(h2Releases.get('one')).toBeGreaterThan(0);
  expect(h2Releases.get('two')).toBeGreaterThan(0);
  expect(h2Releases.get('bad')).toBeUndefined();
}, 300_000);

test('a router handover sends GOAWAY to an open HTTP/2 session: its stream in flight finishes; a new session reaches the new router', async () => {
  const client = h2Connect();
  const goaway = new Promise<void>((resolve) => client.once('goaway', () => resolve()));
  let replaced: Promise<number> | undefined;
  try {
    let holding!: () => void;
    const held = h2Get(client, '/hold', () => holding());
    await new Promise<void>((resolve) => (holding = resolve));
    // The old router retires: GOAWAY, and it waits for the stream it still carries.
    replaced = server.replaceRouter();
    await goaway;
    let finished = false;
    void held.then(() => (finished = true));
    const next = h2Connect();
    try {
      expect(await h2Get(next, '/h2')).toEqual({ status: 200, body: `release two proto https host ${DOMAIN}:${httpsPort}\n` });
      expect(finished).toBe(false);
      expect(await h2Get(next, '/let-go')).toEqual({ status: 200, body: 'let go\n' });
    } finally {
      next.close();
    }
    expect(await held).toEqual({ status: 200, body: 'held\ndone two\n' });
  } finally {
    client.close();
    await replaced;
  }
}, 60_000);

test('certificates survive a restart of the server, a handover of the router, and a new router process', async () => {
  const served = async (step: string): Promise<void> => {
    let reply: Reply;
    try {
      reply = await httpsGet(DOMAIN);
    } catch (error) {
      throw new Error(`after ${step}: ${(error as Error).message}\n${server.output().slice(-3000)}\n${routerLog()}`);
    }
    expect(reply).toMatchObject({ status: 200, cn: DOMAIN, body: `release two proto https host ${DOMAIN}\n` });
  };
  await server.stopServer();
  await server.restart();
  await served('a server restart');
  // SIGHUP: a new router process takes both listening sockets over.
  await server.replaceRouter();
  await served('a router handover');
  // The router stopped altogether: the server starts another, which reads the stored certificates.
  await server.stopServer();
  const router = server.routerPid()!;
  process.kill(router, 'SIGTERM');
  for (let i = 0; i < 200 && isAlive(router); i++) await new Promise((r) => setTimeout(r, 50));
  await server.restart();
  expect(server.routerPid()).not.toBe(router);
  await served('a new router process');
}, 120_000);

function routerLog(): string {
  try {
    return readFileSync(path.join(server.dataDir, 'router.log'), 'utf8').slice(-3000);
  } catch {
    return '(no router.log)';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
