/**
 * What an attacker on the network tries against the router (issue 11): pipelined floods, errors
 * in the router's own code, upgrade smuggling, slow heads, connection floods, forged forwarding
 * headers. Real sockets throughout.
 */
import http from 'node:http';
import { countResponses, DOMAIN, rawClient, send, textUpstream, until, useRouter, UUID, world, remakeRouter, get, sleep } from './support.js';

useRouter();

describe('pipelining', () => {
  test('2 600 pipelined requests in one write each get one response, and the router still serves', async () => {
    const client = await rawClient();
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2600));
    expect(await until(() => countResponses(client.received()) >= 2600, 20_000)).toBe(true);
    await sleep(100);
    expect(countResponses(client.received())).toBe(2600);
    expect(client.socket.destroyed).toBe(false);

    const up = await textUpstream('still here');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    expect((await get('shop')).text).toBe('still here');
  }, 30_000);

  test('pipelined requests to an app are answered in order, one each, across maintenance pages', async () => {
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.known.add('closed');
    world.maintenance.add('closed');
    world.router.switchTo('shop', 1, [up.target]);
    const client = await rawClient();
    const one = 'GET /a HTTP/1.1\r\nHost: shop.test.local\r\n\r\nGET /b HTTP/1.1\r\nHost: closed.test.local\r\n\r\n';
    client.socket.write(one.repeat(300));
    expect(await until(() => countResponses(client.received()) >= 600, 20_000)).toBe(true);
    const statuses = client.received().match(/HTTP\/1\.1 (\d{3})/g)!;
    expect(statuses).toHaveLength(600);
    expect(statuses.every((s, i) => s.endsWith(i % 2 === 0 ? '200' : '503'))).toBe(true);
    expect(up.seen).toHaveLength(300);
  }, 30_000);
});

describe('errors in the router', () => {
  test('an error in router code closes that connection, logs one line, and the router goes on', async () => {
    world.customDomains.set('fine.example', 'shop');
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    // A dependency that throws stands for any bug in the router's request handling.
    const lookup = world.customDomains.get.bind(world.customDomains);
    world.customDomains.get = (host: string) => {
      if (host === 'boom.example') throw new Error('directory exploded');
      return lookup(host);
    };

    // The fast path, then Node's server (a body takes that path).
    for (const head of ['GET / HTTP/1.1\r\nHost: boom.example\r\n\r\n', 'POST / HTTP/1.1\r\nHost: boom.example\r\nContent-Length: 2\r\n\r\nhi']) {
      const client = await rawClient();
      client.socket.write(head);
      await client.closed;
      expect(client.received()).toBe('');
    }
    expect(world.logs).toHaveLength(2);
    expect(world.logs[0]).toMatch(/^router: closed a connection from 127\.0\.0\.1 after an internal error: directory exploded/);
    expect((await send({ host: 'fine.example' })).text).toBe('ok');
  }, 10_000);
});

describe('upgrades', () => {
  test('an upgrade the app does not accept (no 101) keeps HTTP framing: the next request is routed again', async () => {
    const chat = await textUpstream('no websockets here');
    const other = await textUpstream('other');
    world.known.add('chat');
    world.known.add('other');
    world.known.add('closed');
    world.maintenance.add('closed');
    world.router.switchTo('chat', 1, [chat.target]);
    world.router.switchTo('other', 1, [other.target]);
    const client = await rawClient();
    client.socket.write(
      'GET /ws HTTP/1.1\r\nHost: chat.test.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' +
        'GET /next HTTP/1.1\r\nHost: other.test.local\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n' +
        'GET /third HTTP/1.1\r\nHost: closed.test.local\r\n\r\n',
    );
    expect(await until(() => countResponses(client.received()) >= 3, 5000)).toBe(true);
    const text = client.received();
    expect(text).toContain('no websockets here');
    expect(text).toContain('other');
    expect(text).toMatch(/HTTP\/1\.1 503 Service Unavailable[\s\S]*down for maintenance/);
    expect(chat.seen.map((r) => r.url)).toEqual(['/ws']);
    expect(other.seen.map((r) => r.url)).toEqual(['/next']);
    const headers = other.seen[0]!.headers;
    expect(headers.host).toBe('other.test.local');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('other.test.local');
    expect(headers['x-request-id']).toMatch(UUID);
  }, 10_000);
});

describe('slow and many connections', () => {
  test('a head sent one line at a time gets 408 and is closed after headersTimeoutMs, also after the fast path', async () => {
    await remakeRouter({ headersTimeoutMs: 1000 });
    const client = await rawClient();
    // One plain request first: the fast path serves it, then hands the slow one to Node's server.
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n');
    let closed = false;
    void client.closed.then(() => (closed = true));
    for (let i = 0; !closed && i < 100; i++) {
      client.socket.write(`X-Slow-${i}: 1\r\n`);
      await sleep(100);
    }
    expect(closed).toBe(true);
    expect(client.received()).toMatch(/^HTTP\/1\.1 404 [\s\S]*HTTP\/1\.1 408 /);
  }, 15_000);

  test('a client address gets maxConnectionsPerClient connections; the next is refused with 503 until one closes', async () => {
    await remakeRouter({ maxConnectionsPerClient: 3 });
    const open = await Promise.all([rawClient(), rawClient(), rawClient()]);
    const refused = await rawClient();
    await refused.closed;
    expect(refused.received()).toMatch(/^HTTP\/1\.1 503 [\s\S]*Too many connections from your address/);
    open[0]!.socket.destroy();
    await open[0]!.closed;
    // The router hears of the close a moment later.
    let reply = '';
    for (let i = 0; i < 50 && !reply.startsWith('HTTP/1.1 404'); i++) {
      const client = await rawClient();
      client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => client.received().length > 0, 2000);
      reply = client.received();
      if (!reply.startsWith('HTTP/1.1 404')) await sleep(20);
      client.socket.destroy();
      await client.closed;
    }
    expect(reply).toMatch(/^HTTP\/1\.1 404 /);
  }, 10_000);
});

describe('forwarding headers', () => {
  async function seenHeaders(headers: http.OutgoingHttpHeaders, body?: string): Promise<http.IncomingHttpHeaders> {
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    await send({ host: `shop.${DOMAIN}`, headers, method: body === undefined ? 'GET' : 'POST', body });
    return up.seen[0]!.headers;
  }

  test.each([
    ['fast path', undefined],
    ["Node's server", 'a body'],
  ])("%s: a client's X-Forwarded-Proto and Forwarded do not reach the app", async (_path, body) => {
    const headers = await seenHeaders({ 'x-forwarded-proto': 'https', forwarded: 'for=203.0.113.9;proto=https;host=bank.example' }, body);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers.forwarded).toBeUndefined();
  });

  test("behind a TLS proxy (tlsInFront) the proxy's X-Forwarded-Proto goes on, https when it sets none", async () => {
    await remakeRouter({ tlsInFront: true });
    expect((await seenHeaders({ 'x-forwarded-proto': 'http' }))['x-forwarded-proto']).toBe('http');
    await remakeRouter({ tlsInFront: true });
    expect((await seenHeaders({}))['x-forwarded-proto']).toBe('https');
  });

  test('two Host headers get 400, on either path, and reach no app', async () => {
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    for (const head of [
      'GET / HTTP/1.1\r\nHost: shop.test.local\r\nHost: other.test.local\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: shop.test.local\r\nHost: other.test.local\r\nContent-Length: 0\r\n\r\n',
      'GET /ws HTTP/1.1\r\nHost: shop.test.local\r\nHost: other.test.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    ]) {
      const client = await rawClient();
      client.socket.write(head);
      await client.closed;
      expect(client.received()).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(up.seen).toHaveLength(0);
  }, 10_000);

  test('a TAB or other control character inside the request target gets 400 and reaches no app', async () => {
    const up = await textUpstream('ok');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    for (const target of ['/a\tb', '/a\x01b', '/a\x7fb']) {
      const client = await rawClient();
      client.socket.write(`GET ${target} HTTP/1.1\r\nHost: shop.test.local\r\n\r\n`);
      await client.closed;
      expect(client.received()).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(up.seen).toHaveLength(0);
  }, 10_000);
});
