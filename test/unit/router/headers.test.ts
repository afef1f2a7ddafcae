import http from 'node:http';

import { hostOf, requestHead } from '../../../src/router/request-head.js';
import { send, textUpstream, upstream, useRouter, UUID, world, type Upstream } from './support.js';

useRouter();

describe('headers', () => {
  async function echoUpstream(): Promise<Upstream & { seen: http.IncomingMessage[] }> {
    return textUpstream('ok');
  }

  test('the upstream sees X-Forwarded-For/-Proto/-Host and a generated UUID X-Request-Id', async () => {
    const up = await echoUpstream();
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

    await send({ host: 'shop.test.local:8080' });
    await send({ host: 'shop.test.local' });

    expect(up.seen).toHaveLength(2);
    const [first, second] = up.seen.map((r) => r.headers);
    expect(first?.['x-forwarded-for']).toBe('127.0.0.1');
    expect(first?.['x-forwarded-proto']).toBe('http');
    expect(first?.['x-forwarded-host']).toBe('shop.test.local:8080');
    expect(first?.['x-request-id']).toMatch(UUID);
    expect(second?.['x-forwarded-host']).toBe('shop.test.local');
    expect(second?.['x-request-id']).toMatch(UUID);
    expect(second?.['x-request-id']).not.toBe(first?.['x-request-id']);
  });

  test('X-Forwarded-For is appended to; a client X-Request-Id is preserved', async () => {
    const up = await echoUpstream();
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

    await send({ host: 'shop.test.local', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-request-id': 'req-abc-123' } });

    const headers = up.seen[0]?.headers;
    expect(headers?.['x-forwarded-for']).toBe('203.0.113.7, 198.51.100.2, 127.0.0.1');
    expect(headers?.['x-request-id']).toBe('req-abc-123');
  });

  test('hop-by-hop request headers are not forwarded; end-to-end ones are', async () => {
    const up = await echoUpstream();
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

    const reply = await send({
      host: 'shop.test.local',
      headers: {
        connection: 'close',
        'keep-alive': 'timeout=5, max=100',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'proxy-connection': 'keep-alive',
        authorization: 'Bearer app-token',
        'x-custom': 'kept',
      },
    });

    expect(reply.status).toBe(200);
    const headers = up.seen[0]?.headers;
    // The router's own keep-alive agent sets Connection; the client's `close` must not get through.
    expect(headers?.connection).toBe('keep-alive');
    expect(headers?.['keep-alive']).toBeUndefined();
    expect(headers?.['proxy-authorization']).toBeUndefined();
    expect(headers?.['proxy-connection']).toBeUndefined();
    expect(headers?.authorization).toBe('Bearer app-token');
    expect(headers?.['x-custom']).toBe('kept');
  });

  test('the response status, headers and body come back unchanged', async () => {
    const up = await upstream((req, res) => {
      res.writeHead(201, {
        'content-type': 'application/json',
        'x-upstream': 'yes',
        location: '/things/42',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/; HttpOnly'],
      });
      res.end('{"id":42,"name":"thing"}');
    });
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

    const reply = await send({ host: 'shop.test.local', method: 'POST', path: '/things', body: 'name=thing' });

    expect(reply.status).toBe(201);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-upstream']).toBe('yes');
    expect(reply.headers.location).toBe('/things/42');
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(reply.text).toBe('{"id":42,"name":"thing"}');
  });

  test('headers named in Connection are not forwarded', async () => {
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    await send({ host: 'shop.test.local', headers: { connection: 'close, x-secret', 'x-secret': 'hop only', 'x-kept': 'yes' } });
    expect(up.seen[0]?.headers['x-secret']).toBeUndefined();
    expect(up.seen[0]?.headers['x-kept']).toBe('yes');
  });
});

describe('requestHead (pure)', () => {
  const options = { tlsInFront: false, requestId: () => 'generated-id' };
  const base = { method: 'GET', url: '/a?b=1', remoteAddress: '10.0.0.9', host: 'shop.test.local', upgrade: false };

  test("end-to-end headers as sent, then Host, X-Forwarded-* and a request id of the router's own", () => {
    const head = requestHead({ ...base, rawHeaders: ['Host', 'shop.test.local', 'Accept', 'text/html', 'X-Forwarded-For', '203.0.113.1'] }, options);
    expect(head.head).toBe(
      'GET /a?b=1 HTTP/1.1\r\nHost: shop.test.local\r\nAccept: text/html\r\n' +
        'X-Forwarded-For: 203.0.113.1, 10.0.0.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: shop.test.local\r\nX-Request-Id: generated-id\r\n',
    );
    expect(head).toMatchObject({ hasBody: false, chunkedBody: false, isHead: false, retryable: true, upgrade: false });
  });

  test("a client's Forwarded and X-Forwarded-Proto are dropped; with tlsInFront the proxy's proto goes on, else https", () => {
    const raw = ['Forwarded', 'for=1.2.3.4;proto=https', 'X-Forwarded-Proto', 'https'];
    const plain = requestHead({ ...base, rawHeaders: raw }, options).head;
    expect(plain).not.toMatch(/forwarded:/i);
    expect(plain).toContain('X-Forwarded-Proto: http\r\n');
    expect(requestHead({ ...base, rawHeaders: raw }, { ...options, tlsInFront: true }).head).toContain('X-Forwarded-Proto: https\r\n');
    expect(requestHead({ ...base, rawHeaders: ['X-Forwarded-Proto', 'http'] }, { ...options, tlsInFront: true }).head).toContain('X-Forwarded-Proto: http\r\n');
    expect(requestHead({ ...base, rawHeaders: [] }, { ...options, tlsInFront: true }).head).toContain('X-Forwarded-Proto: https\r\n');
  });

  test('bodies, HEAD, and what may be sent again', () => {
    expect(requestHead({ ...base, method: 'POST', rawHeaders: ['Content-Length', '5'] }, options)).toMatchObject({
      hasBody: true,
      chunkedBody: false,
      retryable: false,
    });
    expect(requestHead({ ...base, method: 'PUT', rawHeaders: ['Transfer-Encoding', 'chunked'] }, options)).toMatchObject({
      hasBody: true,
      chunkedBody: true,
      retryable: false,
    });
    expect(requestHead({ ...base, method: 'POST', rawHeaders: ['Content-Length', '0'] }, options)).toMatchObject({ hasBody: false, retryable: false });
    expect(requestHead({ ...base, method: 'HEAD', rawHeaders: [] }, options)).toMatchObject({ isHead: true, retryable: true });
  });

  test('an upgrade keeps its Upgrade header; headers named in Connection stay behind', () => {
    const head = requestHead(
      { ...base, upgrade: true, rawHeaders: ['Connection', 'Upgrade, X-Hop', 'Upgrade', 'websocket', 'X-Hop', 'secret', 'X-Kept', 'yes'] },
      options,
    );
    expect(head.upgrade).toBe(true);
    expect(head.head).toMatch(/\r\nUpgrade: websocket\r\n$/);
    expect(head.head).not.toContain('X-Hop');
    expect(head.head).toContain('X-Kept: yes\r\n');
  });

  test('hostOf: the one Host header, undefined without one, false for two', () => {
    expect(hostOf(['Accept', '*/*', 'host', 'a.test.local'])).toBe('a.test.local');
    expect(hostOf(['Accept', '*/*'])).toBeUndefined();
    expect(hostOf(['Host', 'a.test.local', 'HOST', 'b.test.local'])).toBe(false);
  });
});
