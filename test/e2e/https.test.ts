/**
 * Issue 14, HTTPS serving: the router terminates TLS on --https-port for every app, with uploaded
 * certificates chosen by SNI and the server-wide default certificate, HTTP/2, WebSockets,
 * forceHttps and hsts; certificates survive restarts of the server and of the router process;
 * no HTTPS request fails across a deploy and a failing hook. Real server, real Docker, real TLS
 * clients that trust only a CA made for this run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { TestApp } from '../support/app.js';
import { cliRunner } from '../support/cli.js';
import { removeApp } from '../support/docker.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { TestCa } from '../support/test-ca.js';

const NAME = 'tls-shop';
const DOMAIN = 'www.tls-shop.test';

const SERVER_JS = `
const http = require('node:http');
const release = process.env.RELEASE;
const server = http.createServer((req, res) => {
  res.end('release ' + release + ' proto ' + req.headers['x-forwarded-proto'] + ' host ' + req.headers.host + '\\n');
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nX-Proto: ' + req.headers['x-forwarded-proto'] + '\\r\\n\\r\\n');
  socket.pipe(socket);
  socket.on('error', () => socket.destroy());
});
server.listen(Number(process.env.PORT));
`;

let ca: TestCa;
let server: TestServer;
let app: TestApp;
let httpsPort: number;
let home: string;
let cli: ReturnType<typeof cliRunner>;

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

beforeAll(async () => {
  ca = new TestCa();
  // Node's clients accept no wildcard right under a one-label domain: the app's name is listed too.
  const fallback = ca.issue(['*.localhost', `${NAME}.localhost`]);
  httpsPort = await freePort();
  // Two router processes: every certificate change must reach the worker too.
  server = await startServer({
    args: ['--https-port', String(httpsPort)],
    env: { SLIPWAY_ROUTER_WORKERS: '2', SLIPWAY_TLS_CERT: ca.file('default.pem', fallback.cert), SLIPWAY_TLS_KEY: ca.file('default.key', fallback.key) },
  });
  home = mkdtempSync(path.join(os.tmpdir(), 'slipway-home-'));
  cli = cliRunner(server, home);
  app = new TestApp({ 'server.js': SERVER_JS });
  await app.commit('one', { Procfile: 'web: RELEASE=one node server.js\n' });
  const pushed = await app.push(server.remote(NAME));
  if (pushed.exitCode !== 0) throw new Error(pushed.output);
  expect((await cli(['domains:add', DOMAIN, '-a', NAME])).exitCode).toBe(0);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await removeApp(NAME);
  app?.remove();
  ca?.remove();
  if (home) rmSync(home, { recursive: true, force: true });
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
  const client = http2.connect(`https://${DOMAIN}:${httpsPort}`, {
    ca: ca.cert,
    lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never, 4),
  });
  try {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = client.request({ ':path': '/h2' });
      let status = 0;
      let body = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (body += c));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      stream.end();
    });
    expect((client.socket as tls.TLSSocket).alpnProtocol).toBe('h2');
    expect({ status, body }).toEqual({ status: 200, body: `release one proto https host ${DOMAIN}:${httpsPort}\n` });
  } finally {
    client.close();
  }
}, 30_000);

test('no HTTPS request fails across a deploy and a failing hook under keep-alive load', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const releases = new Map<string, number>();
  let running = true;
  let sent = 0;
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
    await Promise.all(loops);
    agent.destroy();
  }
  expect(failures).toEqual([]);
  expect(releases.get('bad')).toBeUndefined();
  expect(releases.get('two')).toBeGreaterThan(0);
}, 300_000);

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
