/**
 * The router's HTTPS port (issue 14): certificates chosen by SNI (exact, then wildcard, then the
 * default), swapped for the next handshake without dropping open connections, HTTP/1.1 and
 * HTTP/2 through to the same HTTP/1.1 upstream, which is told https. Real TLS clients trusting
 * a CA made for the run.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { RouterInstance } from '../../../src/router/instance.js';
import type { CertificateMessage } from '../../../src/router/messages.js';
import { TestCa } from '../../support/test-ca.js';

const target = (port: number) => ({ host: '127.0.0.1', port, container: `web-${port}` });

let ca: TestCa;
let upstream: http.Server;
let instance: RouterInstance;
let port: number;
let httpPort: number;
const seen: { url: string; proto: string | undefined; host: string | undefined; body: string }[] = [];

function message(hostnames: string[], extra: Partial<CertificateMessage> = {}): CertificateMessage {
  return { hostnames, ...ca.issue(hostnames), ...extra };
}

/** The subject CN of the certificate the router presents for `servername` (undefined: no SNI). */
function presented(servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.cert, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    socket.on('error', reject);
  });
}

function get(host: string, path = '/', agent: https.Agent | false = false): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca: ca.cert, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  ca = new TestCa();
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', proto: req.headers['x-forwarded-proto'] as string | undefined, host: req.headers.host, body });
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(`app: ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  instance = new RouterInstance({ domain: 'test.local', httpsPort: 443 });
  await instance.apply({
    type: 'state',
    directory: { apps: ['shop'], domains: [['www.shop.example', 'shop']], maintenance: [] },
    routes: [{ app: 'shop', deployment: 1, targets: [target((upstream.address() as net.AddressInfo).port)] }],
    certificates: [message(['default.test.local', '*.test.local'], { default: true }), message(['www.shop.example']), message(['*.wild.example'])],
    challenges: [],
    followed: [],
  });
  await instance.listenTls({ port: 0, host: '127.0.0.1' });
  port = (instance.secureServer!.address() as net.AddressInfo).port;
  await instance.listen(0, '127.0.0.1');
  httpPort = (instance.server.address() as net.AddressInfo).port;
}, 30_000);

afterAll(async () => {
  await instance.close();
  upstream.close();
  ca.remove();
});

describe('the HTTPS port', () => {
  test('SNI picks the exact name, then a wildcard one label up, then the default (also without SNI)', async () => {
    expect(await presented('www.shop.example')).toBe('www.shop.example');
    expect(await presented('WWW.Shop.Example')).toBe('www.shop.example');
    expect(await presented('a.wild.example')).toBe('*.wild.example');
    expect(await presented('a.b.wild.example')).toBe('default.test.local');
    expect(await presented('wild.example')).toBe('default.test.local');
    expect(await presented('shop.test.local')).toBe('default.test.local');
    expect(await presented(undefined)).toBe('default.test.local');
  }, 20_000);

  test('an app is served over HTTPS with its certificate verified, and the app is told https', async () => {
    const reply = await get('www.shop.example', '/page');
    expect(reply).toMatchObject({ status: 200, text: 'app: GET /page ' });
    expect(seen.at(-1)).toMatchObject({ url: '/page', proto: 'https', host: 'www.shop.example' });
    // A client claiming the proto cannot change it, and the default certificate serves <app>.<domain>.
    expect((await get('shop.test.local', '/x')).status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ proto: 'https', host: 'shop.test.local' });
  }, 20_000);

  test('a new certificate is served from the next handshake; an open keep-alive connection goes on', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await get('www.shop.example', '/1', agent)).status).toBe(200);
      const before = await presented('www.shop.example');
      const renewed = message(['www.shop.example', 'renewed.shop.example']);
      const current = instance.state();
      await instance.apply({
        type: 'certificates',
        certificates: [...(current.type === 'state' ? current.certificates : []).filter((c) => !c.hostnames.includes('www.shop.example')), renewed],
      });
      // The same connection still serves (no reconnect: the agent's one socket is reused).
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets).toHaveLength(1);
      expect((await get('www.shop.example', '/2', agent)).status).toBe(200);
      expect(Object.values(agent.freeSockets).flat()[0]).toBe(sockets[0]);
      expect(before).toBe('www.shop.example');
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'www.shop.example', ca: ca.cert });
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      expect(socket.getPeerCertificate().subjectaltname).toBe('DNS:www.shop.example, DNS:renewed.shop.example');
      socket.end();
    } finally {
      agent.destroy();
    }
  }, 20_000);

  test('HTTP/2 (ALPN h2): requests with and without a body reach the HTTP/1.1 upstream; set-cookie stays two headers', async () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { servername: 'www.shop.example', ca: ca.cert });
    try {
      const request = (path: string, method: string, body?: string): Promise<{ status: number; text: string; headers: http2.IncomingHttpHeaders }> =>
        new Promise((resolve, reject) => {
          const stream = client.request({ ':path': path, ':method': method, ':authority': 'www.shop.example' });
          let text = '';
          let headers: http2.IncomingHttpHeaders = {};
          stream.on('response', (h) => (headers = h));
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => (text += chunk));
          stream.on('end', () => resolve({ status: Number(headers[':status']), text, headers }));
          stream.on('error', reject);
          stream.end(body);
        });
      const [a, b] = await Promise.all([request('/h2', 'GET'), request('/h2-post', 'POST', 'hello over h2')]);
      expect(a).toMatchObject({ status: 200, text: 'app: GET /h2 ' });
      expect(a.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(b).toMatchObject({ status: 200, text: 'app: POST /h2-post hello over h2' });
      expect(seen.find((s) => s.url === '/h2-post')).toMatchObject({ proto: 'https', host: 'www.shop.example', body: 'hello over h2' });
      expect((client.socket as tls.TLSSocket).alpnProtocol).toBe('h2');
    } finally {
      client.close();
    }
  }, 20_000);
});

describe('forceHttps and hsts (from the directory)', () => {
  // Keep-alive, so GETs take the router's fast path (a `Connection: close` request does not).
  const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  afterAll(() => plainAgent.destroy());

  function plain(host: string, path: string): Promise<{ status: number; location: string | undefined }> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: httpPort, path, headers: { host }, agent: plainAgent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        })
        .on('error', reject);
    });
  }

  test('HTTP answers 308 to the same URL on HTTPS (challenges excepted); HTTPS answers carry Strict-Transport-Security', async () => {
    expect((await plain('www.shop.example', '/page?q=1')).status).toBe(200);
    expect((await get('www.shop.example', '/')).headers['strict-transport-security']).toBeUndefined();
    await instance.apply({
      type: 'directory',
      directory: { apps: ['shop'], domains: [['www.shop.example', 'shop']], maintenance: [], forceHttps: ['shop'], hsts: ['shop'] },
    });
    expect(await plain('www.shop.example:8080', '/page?q=1')).toEqual({ status: 308, location: 'https://www.shop.example/page?q=1' });
    expect(await plain('shop.test.local', '/')).toEqual({ status: 308, location: 'https://shop.test.local/' });
    expect((await plain('www.shop.example', '/.well-known/acme-challenge/none')).status).toBe(404);
    const reply = await get('www.shop.example', '/secure');
    expect(reply.status).toBe(200);
    expect(reply.headers['strict-transport-security']).toBe('max-age=31536000');
    await instance.apply({ type: 'directory', directory: { apps: ['shop'], domains: [['www.shop.example', 'shop']], maintenance: [] } });
    expect((await plain('www.shop.example', '/')).status).toBe(200);
  }, 20_000);
});
