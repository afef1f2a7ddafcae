import { createHash } from 'node:crypto';

import http from 'node:http';
import type { RouteTarget } from '../../../src/store/store.js';
import { targetKey } from '../../../src/router/table.js';
import { retryDecision } from '../../../src/router/exchange.js';
import {
  agents,
  clientRequests,
  closedPort,
  deferred,
  get,
  makeRouter,
  MB,
  patternChunk,
  remakeRouter,
  send,
  sleep,
  textUpstream,
  until,
  upstream,
  useRouter,
  withTimeout,
  world,
  write,
  type Reply,
} from './support.js';

useRouter();

describe('failover', () => {
  test('GETs skip a refusing target, which is marked down and comes back once it listens again', async () => {
    const deadPort = await closedPort();
    const dead: RouteTarget = { host: '127.0.0.1', port: deadPort, container: 'web-dead' };
    const live = await textUpstream('live');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [dead, live.target]);

    // The first pick is the dead target: the request must be retried on the live one.
    const bodies: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await get('shop');
      statuses.push(reply.status);
      bodies.push(reply.text);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect(bodies).toEqual(['live', 'live', 'live', 'live', 'live', 'live']);
    expect(world.router.table.isDown(targetKey(dead))).toBe(true);
    expect(world.router.table.isDown(targetKey(live.target))).toBe(false);

    // The container comes back on the same port.
    const revived = await textUpstream('revived', deadPort);
    expect(revived.port).toBe(deadPort);
    const back = await until(() => !world.router.table.isDown(targetKey(dead)), 3000);
    expect(back).toBe(true);

    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push((await get('shop')).text);
    expect([...after].sort()).toEqual(['live', 'live', 'revived', 'revived']);
  });

  test('a POST with a body to a refusing target is not retried: 502', async () => {
    const deadPort = await closedPort();
    const dead: RouteTarget = { host: '127.0.0.1', port: deadPort, container: 'web-dead' };
    const bodies: string[] = [];
    const live = await upstream((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.end('stored');
      });
    });
    world.known.add('shop');
    world.router.switchTo('shop', 1, [dead, live.target]);

    const refused = await send({
      host: 'shop.test.local',
      method: 'POST',
      path: '/orders',
      body: 'item=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    expect(refused.status).toBe(502);
    expect(refused.text).toContain('<h1>Bad gateway</h1>');
    expect(refused.text).toContain('shop could not be reached.');
    expect(bodies).toEqual([]);
    // It is still taken out of rotation, so the next POST goes to the live target.
    expect(world.router.table.isDown(targetKey(dead))).toBe(true);

    const ok = await send({ host: 'shop.test.local', method: 'POST', path: '/orders', body: 'item=2' });
    expect([ok.status, ok.text]).toEqual([200, 'stored']);
    expect(bodies).toEqual(['item=2']);
  });

  test('a GET whose fresh connection the target closes unanswered goes to another target; a POST does not', async () => {
    // A container being killed: its process read the request, then died without a byte back.
    let closed = 0;
    const dying = await upstream((req) => {
      closed++;
      req.socket.destroy();
    });
    const live = await textUpstream('live');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [dying.target, live.target]);

    const replies: [number, string][] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await get('shop');
      replies.push([reply.status, reply.text]);
    }
    expect(replies).toEqual([
      [200, 'live'],
      [200, 'live'],
      [200, 'live'],
      [200, 'live'],
    ]);
    expect(closed).toBeGreaterThan(0);
    // It answered the connection, so it stays in rotation: the next request may find it well.
    expect(world.router.table.isDown(targetKey(dying.target))).toBe(false);

    // With no other target, one attempt and a 502 (not "not running": it is in rotation); a POST
    // is never sent twice.
    world.router.switchTo('shop', 2, [dying.target]);
    for (const method of ['GET', 'POST']) {
      const before = closed;
      const reply = await send({ host: 'shop.test.local', method, path: '/orders', body: method === 'POST' ? 'item=1' : undefined });
      expect([method, reply.status, closed - before]).toEqual([method, 502, 1]);
      expect(reply.text).toContain('shop could not be reached.');
    }
  });

  test('a GET to an app whose only target refuses gets 503 after the retry finds nothing', async () => {
    const deadPort = await closedPort();
    world.known.add('shop');
    world.router.switchTo('shop', 1, [{ host: '127.0.0.1', port: deadPort, container: 'web-dead' }]);

    const reply = await get('shop');

    expect(reply.status).toBe(503);
    expect(reply.text).toContain('shop has no running web container');
  });
});

describe('upstream errors', () => {
  test('an upstream that drops the connection before answering gives a 502 page naming the app, without a stack trace', async () => {
    const up = await upstream((req) => req.socket.destroy());
    world.known.add('crashy');
    world.router.switchTo('crashy', 1, [up.target]);

    const reply = await get('crashy', '/boom');

    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.text).toContain('<h1>Bad gateway</h1>');
    expect(reply.text).toContain('crashy could not be reached.');
    expect(reply.text).not.toMatch(/Error|ECONN|hang up|\n\s+at |node:|\.[jt]s:\d+/);
    // The router is still fine afterwards, and the target was not taken out for a reset.
    expect(world.router.table.isDown(targetKey(up.target))).toBe(false);
    expect(world.router.table.activeRequests([up.target])).toBe(0);
  });

  test('an upstream that never answers gives 504 after upstreamTimeoutMs', async () => {
    const { router: timed, port } = await makeRouter({ upstreamTimeoutMs: 300 });
    const arrived = deferred();
    const up = await upstream(() => arrived.resolve()); // never answers
    world.known.add('slowpoke');
    timed.switchTo('slowpoke', 1, [up.target]);

    const started = Date.now();
    const reply = await send({ host: 'slowpoke.test.local', port });
    const elapsed = Date.now() - started;

    await withTimeout(arrived.promise, 100, 'the request never reached the upstream');
    expect(reply.status).toBe(504);
    expect(reply.text).toContain('<h1>Gateway timeout</h1>');
    expect(reply.text).toContain('slowpoke did not answer in time.');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
    expect(timed.table.activeRequests([up.target])).toBe(0);
  });

  test('a GET that times out on a reused connection is not sent again: one 504, the app saw it once', async () => {
    const { router: timed, port } = await makeRouter({ upstreamTimeoutMs: 300 });
    const seen: string[] = [];
    const sockets = new Set<unknown>();
    const up = await upstream((req, res) => {
      seen.push(req.url ?? '');
      sockets.add(req.socket);
      if (req.url === '/fast') res.end('fast'); // and /slow never answers
    });
    world.known.add('slowpoke');
    timed.switchTo('slowpoke', 1, [up.target]);

    expect((await send({ host: 'slowpoke.test.local', port, path: '/fast' })).text).toBe('fast');
    // The router's pooled connection from /fast carries /slow.
    const reply = await send({ host: 'slowpoke.test.local', port, path: '/slow' });

    expect(reply.status).toBe(504);
    await sleep(400);
    expect(seen).toEqual(['/fast', '/slow']);
    expect(sockets.size).toBe(1);
  });

  test('a client that gives up on a GET is not sent to the app a second time', async () => {
    const seen: string[] = [];
    const up = await upstream((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 1500);
      else res.end('fast');
    });
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);

    expect((await send({ host: 'shop.test.local', path: '/fast', agent })).text).toBe('fast');
    const slow = http.get({ host: '127.0.0.1', port: world.routerPort, path: '/slow', headers: { host: 'shop.test.local' }, agent: false });
    slow.on('error', () => undefined);
    await until(() => seen.includes('/slow'), 2000);
    slow.destroy();

    expect(await until(() => world.router.table.activeRequests([up.target]) === 0, 1000)).toBe(true);
    await sleep(200);
    expect(seen).toEqual(['/fast', '/slow']);
  });

  test('a streamed response may pause longer than the upstream timeout', async () => {
    await remakeRouter({ upstreamTimeoutMs: 300 });
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 600);
    });
    world.known.add('feed');
    world.router.switchTo('feed', 1, [up.target]);
    const reply = await send({ host: 'feed.test.local' });
    expect(reply.text).toBe('data: 1\n\ndata: 2\n\n');
  });
});

describe('streaming bodies', () => {
  test('a 20 MB upload streams: the upstream gets the first chunk before the client has finished sending', async () => {
    const TOTAL = 20 * MB;
    const CHUNK = 64 * 1024;
    let received = 0;
    const upstreamHash = createHash('sha256');
    const firstData = deferred();
    const up = await upstream((req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
        upstreamHash.update(c);
        firstData.resolve();
      });
      req.on('end', () => res.end(JSON.stringify({ received, sha256: upstreamHash.digest('hex') })));
    });
    world.known.add('files');
    world.router.switchTo('files', 1, [up.target]);

    const clientHash = createHash('sha256');
    let sent = 0;
    const req = http.request({
      host: '127.0.0.1',
      port: world.routerPort,
      method: 'POST',
      path: '/upload',
      headers: { host: 'files.test.local', 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) },
      agent: false,
    });
    clientRequests.push(req);
    const reply = new Promise<Reply>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      });
    });

    const first = patternChunk(0, CHUNK);
    clientHash.update(first);
    await write(req, first);
    sent += first.length;
    await withTimeout(firstData.promise, 3000, 'the upstream saw no data while the client was still sending (the router buffers the request body)');
    expect(sent).toBe(CHUNK);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThanOrEqual(CHUNK);

    for (let i = 1; sent < TOTAL; i++) {
      const chunk = patternChunk(i, CHUNK);
      clientHash.update(chunk);
      await write(req, chunk);
      sent += chunk.length;
    }
    req.end();

    const result = await withTimeout(reply, 4000, 'no response to the upload');
    expect(result.status).toBe(200);
    expect(JSON.parse(result.text)).toEqual({ received: TOTAL, sha256: clientHash.digest('hex') });
  });

  test('a 20 MB streamed response arrives intact', async () => {
    const CHUNKS = 320; // 320 × 64 KiB = 20 MiB
    const expected = createHash('sha256');
    for (let i = 0; i < CHUNKS; i++) expected.update(patternChunk(i));
    const up = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void (async () => {
        for (let i = 0; i < CHUNKS; i++) await write(res, patternChunk(i));
        res.end();
      })().catch(() => res.destroy());
    });
    world.known.add('files');
    world.router.switchTo('files', 1, [up.target]);

    const { status, bytes, sha256 } = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: world.routerPort, path: '/big', headers: { host: 'files.test.local' }, agent: false }, (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      });
      clientRequests.push(req);
      req.on('error', reject);
    });

    expect(status).toBe(200);
    expect(bytes).toBe(20 * MB);
    expect(sha256).toBe(expected.digest('hex'));
  });

  // The router reads each upstream connection into one buffer, and takes a new one only when a
  // write to the client still holds the last read's bytes: a client that cannot keep up is where
  // bytes would be overwritten before they went out.
  test.each([
    ['the fast path', 'with a length'],
    ['the fast path', 'chunked'],
    ["Node's server", 'with a length'],
    ["Node's server", 'chunked'],
  ])('a 4 MB response in small writes, to a client that reads slowly, arrives intact through %s, %s', async (path, framing) => {
    // Small writes, so that the router reads less than a socket's high-water mark at a time and
    // its writes to the client may be queued without the client's socket asking it to pause.
    const CHUNKS = 4096;
    const SIZE = 1021;
    const expected = createHash('sha256');
    for (let i = 0; i < CHUNKS; i++) expected.update(patternChunk(i, SIZE));
    const up = await upstream((req, res) => {
      res.writeHead(200, framing === 'chunked' ? {} : { 'content-length': CHUNKS * SIZE });
      void (async () => {
        for (let i = 0; i < CHUNKS; i++) await write(res, patternChunk(i, SIZE));
        res.end();
      })().catch(() => res.destroy());
    });
    world.known.add('files');
    world.router.switchTo('files', 1, [up.target]);
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);

    const { bytes, sha256 } = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const options = { host: '127.0.0.1', port: world.routerPort, path: '/slow', headers: { host: 'files.test.local' } };
      const req = http.get(path === 'the fast path' ? { ...options, agent } : { ...options, agent: false }, (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        let pauses = 0;
        let sincePause = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
          sincePause += c.length;
          // A long stall at first, while the kernel's buffers for the connection are small.
          if (pauses === 0 || sincePause >= 256 * 1024) {
            res.pause();
            setTimeout(() => res.resume(), pauses++ === 0 ? 200 : 3);
            sincePause = 0;
          }
        });
        res.on('error', reject);
        res.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
      });
      clientRequests.push(req);
      req.on('error', reject);
    });

    expect(bytes).toBe(CHUNKS * SIZE);
    expect(sha256).toBe(expected.digest('hex'));
  });
});

describe('retryDecision (pure)', () => {
  test('a refused connection goes elsewhere: nothing reached the app', () => {
    expect(retryDecision('ECONNREFUSED', false, false, true, 1)).toBe('elsewhere');
  });

  test('a reused connection the app closed before answering goes again, to any target', () => {
    for (const code of [undefined, 'ECONNRESET', 'EPIPE']) expect(retryDecision(code, true, false, true, 1)).toBe('again');
  });

  test('a fresh connection the app closed or reset before answering goes elsewhere: its process is dying', () => {
    for (const code of [undefined, 'ECONNRESET', 'EPIPE']) expect(retryDecision(code, false, false, true, 1)).toBe('elsewhere');
  });

  test('a host that cannot be reached goes elsewhere, like a refusal', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']) expect(retryDecision(code, false, false, true, 1)).toBe('elsewhere');
  });

  test('no retry once the app sent bytes, for other errors, for bodies, or after 4 attempts', () => {
    expect(retryDecision('ECONNRESET', true, true, true, 1)).toBe('no');
    expect(retryDecision('ECONNRESET', false, true, true, 1)).toBe('no');
    expect(retryDecision(undefined, false, true, true, 1)).toBe('no');
    expect(retryDecision('ECONNRESET', false, false, false, 1)).toBe('no');
    expect(retryDecision('ETIMEDOUT', true, false, true, 1)).toBe('no');
    expect(retryDecision('ECONNREFUSED', false, false, false, 1)).toBe('no');
    expect(retryDecision('ECONNREFUSED', false, false, true, 4)).toBe('no');
    expect(retryDecision('ECONNREFUSED', false, false, true, 3)).toBe('elsewhere');
  });
});
