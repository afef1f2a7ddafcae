/**
 * ACME HTTP-01 challenges on the router's port (issue 14): answered for any Host, before routing,
 * from the whole set the server last sent; unknown tokens are 404. Real sockets.
 */
import http from 'node:http';
import type net from 'node:net';
import { challengeToken } from '../../../src/router/challenges.js';
import { RouterInstance } from '../../../src/router/instance.js';

const target = (port: number) => ({ host: '127.0.0.1', port, container: `web-${port}` });
/** Keep-alive, so GETs take the router's fast path (a `Connection: close` request does not). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port: number, host: string, path: string, method = 'GET', body?: string): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('ACME HTTP-01 challenges', () => {
  let instance: RouterInstance;
  let upstream: http.Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('the app');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    instance = new RouterInstance({ domain: 'test.local' });
    await instance.apply({
      type: 'state',
      directory: { apps: ['shop'], domains: [['www.shop.example', 'shop']], maintenance: [] },
      routes: [{ app: 'shop', deployment: 1, targets: [target((upstream.address() as net.AddressInfo).port)] }],
      certificates: [],
      challenges: [['tok-A_1', 'tok-A_1.thumbprint']],
      followed: [],
    });
    await instance.listen(0, '127.0.0.1');
    port = (instance.server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    agent.destroy();
    await instance.close();
    upstream.close();
  });

  test('a known token is answered with its key authorization as text/plain, for a custom domain, an app and an unknown host', async () => {
    for (const host of ['www.shop.example', 'shop.test.local', 'nobody.example']) {
      expect(await request(port, host, '/.well-known/acme-challenge/tok-A_1')).toEqual({ status: 200, type: 'text/plain', text: 'tok-A_1.thumbprint' });
    }
    // Also on the path Node's server parses (a request with a body leaves the fast path).
    expect(await request(port, 'www.shop.example', '/.well-known/acme-challenge/tok-A_1', 'POST', 'x')).toMatchObject({
      status: 200,
      text: 'tok-A_1.thumbprint',
    });
    expect(seen).toEqual([]);
  }, 10_000);

  test('an unknown token is 404, and the app never sees challenge requests', async () => {
    const reply = await request(port, 'www.shop.example', '/.well-known/acme-challenge/other');
    expect(reply.status).toBe(404);
    expect(seen).toEqual([]);
    // Other paths are the app's, the rest of .well-known included.
    expect(await request(port, 'www.shop.example', '/.well-known/security.txt')).toMatchObject({ status: 200, text: 'the app' });
    expect(seen).toEqual(['/.well-known/security.txt']);
  }, 10_000);

  test('each challenges command replaces the whole set', async () => {
    await instance.apply({ type: 'challenges', challenges: [['tok-B', 'tok-B.thumbprint']] });
    expect((await request(port, 'x', '/.well-known/acme-challenge/tok-B')).text).toBe('tok-B.thumbprint');
    expect((await request(port, 'x', '/.well-known/acme-challenge/tok-A_1')).status).toBe(404);
    expect(instance.state()).toMatchObject({ challenges: [['tok-B', 'tok-B.thumbprint']] });
    await instance.apply({ type: 'challenges', challenges: [] });
    expect((await request(port, 'x', '/.well-known/acme-challenge/tok-B')).status).toBe(404);
  }, 10_000);

  test('challengeToken reads the token from the path only', () => {
    expect(challengeToken('/.well-known/acme-challenge/abc')).toBe('abc');
    expect(challengeToken('/.well-known/acme-challenge/abc?x=1')).toBe('abc');
    expect(challengeToken('/.well-known/acme')).toBeUndefined();
    expect(challengeToken('/')).toBeUndefined();
  });
});
