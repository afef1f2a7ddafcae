import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { Router } from '../../src/router/proxy.js';
import { RouteTable, targetKey } from '../../src/router/table.js';
import type { RouteTarget } from '../../src/store/store.js';

const DOMAIN = 'test.local';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Small helpers

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `label` if `promise` has not settled within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 20 ms until it holds or `ms` have passed; returns whether it held. */
async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

function portOf(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}

/** Writes with backpressure. */
async function write(stream: Writable, chunk: Buffer): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** The i-th 64 KiB chunk of a recognisable byte pattern. */
function patternChunk(i: number, size = 64 * 1024): Buffer {
  const chunk = Buffer.alloc(size);
  for (let j = 0; j < size; j++) chunk[j] = (i * 31 + j) & 0xff;
  return chunk;
}

// ---------------------------------------------------------------------------------------------
// Resources, all released after each test

const servers: http.Server[] = [];
const rawSockets = new Set<net.Socket>();
const agents: http.Agent[] = [];
const routers: Router[] = [];
const clientRequests: http.ClientRequest[] = [];

let known: Set<string>;
let customDomains: Map<string, string>;
let customDomainLookups: string[];
let maintenance: Set<string>;
let router: Router;
let routerPort: number;

async function makeRouter(extra: { upstreamTimeoutMs?: number } = {}): Promise<{ router: Router; port: number }> {
  const r = new Router({
    domain: DOMAIN,
    appExists: (app) => known.has(app),
    appForCustomDomain: (host) => {
      customDomainLookups.push(host);
      return customDomains.get(host);
    },
    inMaintenance: (app) => maintenance.has(app),
    ...extra,
  });
  routers.push(r);
  await r.listen(0, '127.0.0.1');
  return { router: r, port: portOf(r.server) };
}

interface Upstream {
  server: http.Server;
  port: number;
  target: RouteTarget;
}

async function upstream(handler: http.RequestListener, port = 0): Promise<Upstream> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const p = portOf(server);
  return { server, port: p, target: { host: '127.0.0.1', port: p, container: `web-${p}` } };
}

/** A port on 127.0.0.1 that nothing listens on (just freed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const p = portOf(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

interface SendOptions {
  host: string;
  path?: string;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent | false;
  port?: number;
}

/** One request to the router with the given Host header; a fresh connection unless an agent is given. */
function send(options: SendOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: options.port ?? routerPort,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { ...options.headers, host: options.host },
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      },
    );
    clientRequests.push(req);
    req.on('error', reject);
    req.setTimeout(4000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.host}${options.path ?? '/'} timed out`)));
    req.end(options.body);
  });
}

function get(app: string, path = '/'): Promise<Reply> {
  return send({ host: `${app}.${DOMAIN}`, path });
}

/** Sends an upgrade through the router; resolves with the status line it gets back. */
function upgradeStatus(host: string): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: routerPort,
        path: '/ws',
        headers: { host, connection: 'Upgrade', upgrade: 'websocket' },
      });
      clientRequests.push(req);
      req.on('upgrade', (res: http.IncomingMessage, s: net.Socket) => {
        rawSockets.add(s);
        resolve(res.statusCode ?? 0);
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    }),
    3000,
    'upgrade reply',
  );
}
/** An upstream answering every request with `body`, counting the requests it saw. */
async function textUpstream(body: string, port = 0): Promise<Upstream & { seen: http.IncomingMessage[] }> {
  const seen: http.IncomingMessage[] = [];
  const up = await upstream((req, res) => {
    seen.push(req);
    req.resume();
    req.on('end', () => res.end(body));
  }, port);
  return { ...up, seen };
}

beforeEach(async () => {
  known = new Set();
  maintenance = new Set();
  customDomains = new Map();
  customDomainLookups = [];
  ({ router, port: routerPort } = await makeRouter());
});

afterEach(async () => {
  // Upgraded sockets first: the router's server does not close those itself.
  for (const s of rawSockets) s.destroy();
  rawSockets.clear();
  for (const r of clientRequests.splice(0)) r.destroy();
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(routers.splice(0).map((r) => r.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
});

// ---------------------------------------------------------------------------------------------

describe('routing by Host', () => {
  test('<app>.test.local reaches the app\'s upstream, with method, path and query unchanged', async () => {
    const up = await textUpstream('hello from shop');
    const other = await textUpstream('hello from blog');
    known.add('shop').add('blog');
    router.table.set('shop', 1, [up.target]);
    router.table.set('blog', 1, [other.target]);

    const reply = await send({ host: 'shop.test.local', path: '/cart/items?id=7&q=a%20b', method: 'DELETE' });

    expect(reply.status).toBe(200);
    expect(reply.text).toBe('hello from shop');
    expect(up.seen).toHaveLength(1);
    expect(up.seen[0]?.url).toBe('/cart/items?id=7&q=a%20b');
    expect(up.seen[0]?.method).toBe('DELETE');
    expect(up.seen[0]?.headers.host).toBe('shop.test.local');
    expect(other.seen).toHaveLength(0);
  });

  test('a Host with a port, in upper case, or with a trailing dot reaches the same app', async () => {
    const up = await textUpstream('shop');
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

    for (const host of ['shop.test.local:8080', 'SHOP.Test.LOCAL', 'Shop.TEST.local:443', 'shop.test.local.']) {
      const reply = await send({ host });
      expect({ host, status: reply.status, body: reply.text }).toEqual({ host, status: 200, body: 'shop' });
    }
    expect(up.seen.map((r) => r.headers.host)).toEqual(['shop.test.local:8080', 'SHOP.Test.LOCAL', 'Shop.TEST.local:443', 'shop.test.local.']);
  });

  test('a custom domain from appForCustomDomain reaches its app (port and case ignored)', async () => {
    const up = await textUpstream('shop via custom domain');
    known.add('shop');
    customDomains.set('www.shop.example', 'shop');
    router.table.set('shop', 1, [up.target]);

    const plain = await send({ host: 'www.shop.example' });
    const withPort = await send({ host: 'WWW.Shop.Example:8443' });

    expect([plain.status, plain.text]).toEqual([200, 'shop via custom domain']);
    expect([withPort.status, withPort.text]).toEqual([200, 'shop via custom domain']);
    expect(customDomainLookups).toEqual(['www.shop.example', 'www.shop.example']);
    expect(up.seen).toHaveLength(2);
  });

  test('an unknown host gets 404 with a short HTML page', async () => {
    const up = await textUpstream('never');
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

    for (const host of ['nope.test.local', 'unknown.example', 'test.local']) {
      const reply = await send({ host });
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(reply.text.startsWith('<!doctype html>')).toBe(true);
      expect(reply.text).toContain('<h1>No such app</h1>');
      expect(reply.text).toContain(`No app is served at ${host}.`);
      expect(reply.body.length).toBeLessThan(300);
      expect(reply.headers['content-length']).toBe(String(reply.body.length));
    }
    expect(up.seen).toHaveLength(0);
  });

  test('the 404 page escapes the Host it echoes', async () => {
    const reply = await send({ host: '<img src=x onerror=alert(1)>.test.local' });

    expect(reply.status).toBe(404);
    expect(reply.text).not.toContain('<img');
    expect(reply.text).toContain('&#60;img src=x onerror=alert(1)&#62;.test.local');
  });

  test('an app in maintenance gets a 503 maintenance page, fast path, Node\'s server and upgrades alike, until it is back', async () => {
    const up = await textUpstream('served');
    known.add('shop');
    router.table.set('shop', 1, [up.target]);
    maintenance.add('shop');

    for (const reply of [await get('shop'), await send({ host: 'shop.test.local', method: 'POST', body: 'order' })]) {
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBe('60');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.text).toContain('<h1>Down for maintenance</h1>');
      expect(reply.text).toContain('shop is down for maintenance and will be back shortly.');
    }
    expect(await upgradeStatus('shop.test.local')).toBe(503);
    expect(up.seen).toHaveLength(0);

    maintenance.delete('shop');
    expect((await get('shop')).text).toBe('served');
  });

  test('a known app with no route gets 503 naming the app', async () => {
    known.add('ghost');

    const reply = await get('ghost');

    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.text).toContain('<h1>App not running</h1>');
    expect(reply.text).toContain('ghost has no running web container');
  });

  test('a sub-sub-domain (a.b.test.local) gets 404 even when a and b are apps', async () => {
    const a = await textUpstream('a');
    const b = await textUpstream('b');
    known.add('a').add('b').add('a.b');
    router.table.set('a', 1, [a.target]);
    router.table.set('b', 1, [b.target]);

    const reply = await send({ host: 'a.b.test.local' });

    expect(reply.status).toBe(404);
    expect(reply.text).toContain('<h1>No such app</h1>');
    expect(a.seen).toHaveLength(0);
    expect(b.seen).toHaveLength(0);
    // Sanity: the same router does route a and b themselves.
    expect((await get('b')).text).toBe('b');
  });
});

describe('headers', () => {
  async function echoUpstream(): Promise<Upstream & { seen: http.IncomingMessage[] }> {
    return textUpstream('ok');
  }

  test('the upstream sees X-Forwarded-For/-Proto/-Host and a generated UUID X-Request-Id', async () => {
    const up = await echoUpstream();
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

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
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

    await send({ host: 'shop.test.local', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-request-id': 'req-abc-123' } });

    const headers = up.seen[0]?.headers;
    expect(headers?.['x-forwarded-for']).toBe('203.0.113.7, 198.51.100.2, 127.0.0.1');
    expect(headers?.['x-request-id']).toBe('req-abc-123');
  });

  test('hop-by-hop request headers are not forwarded; end-to-end ones are', async () => {
    const up = await echoUpstream();
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

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
    known.add('shop');
    router.table.set('shop', 1, [up.target]);

    const reply = await send({ host: 'shop.test.local', method: 'POST', path: '/things', body: 'name=thing' });

    expect(reply.status).toBe(201);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['x-upstream']).toBe('yes');
    expect(reply.headers.location).toBe('/things/42');
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(reply.text).toBe('{"id":42,"name":"thing"}');
  });
});

describe('load balancing', () => {
  test('two targets take turns (round robin) over 10 requests', async () => {
    const a = await textUpstream('A');
    const b = await textUpstream('B');
    known.add('shop');
    router.table.set('shop', 1, [a.target, b.target]);

    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) bodies.push((await get('shop')).text);

    expect(bodies).toEqual(['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B']);
    expect(a.seen).toHaveLength(5);
    expect(b.seen).toHaveLength(5);
  });
});

describe('failover', () => {
  test('GETs skip a refusing target, which is marked down and comes back once it listens again', async () => {
    const deadPort = await closedPort();
    const dead: RouteTarget = { host: '127.0.0.1', port: deadPort, container: 'web-dead' };
    const live = await textUpstream('live');
    known.add('shop');
    router.table.set('shop', 1, [dead, live.target]);

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
    expect(router.table.isDown(targetKey(dead))).toBe(true);
    expect(router.table.isDown(targetKey(live.target))).toBe(false);

    // The container comes back on the same port.
    const revived = await textUpstream('revived', deadPort);
    expect(revived.port).toBe(deadPort);
    const back = await until(() => !router.table.isDown(targetKey(dead)), 3000);
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
    known.add('shop');
    router.table.set('shop', 1, [dead, live.target]);

    const refused = await send({ host: 'shop.test.local', method: 'POST', path: '/orders', body: 'item=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });

    expect(refused.status).toBe(502);
    expect(refused.text).toContain('<h1>Bad gateway</h1>');
    expect(refused.text).toContain('shop could not be reached.');
    expect(bodies).toEqual([]);
    // It is still taken out of rotation, so the next POST goes to the live target.
    expect(router.table.isDown(targetKey(dead))).toBe(true);

    const ok = await send({ host: 'shop.test.local', method: 'POST', path: '/orders', body: 'item=2' });
    expect([ok.status, ok.text]).toEqual([200, 'stored']);
    expect(bodies).toEqual(['item=2']);
  });

  test('a GET to an app whose only target refuses gets 503 after the retry finds nothing', async () => {
    const deadPort = await closedPort();
    known.add('shop');
    router.table.set('shop', 1, [{ host: '127.0.0.1', port: deadPort, container: 'web-dead' }]);

    const reply = await get('shop');

    expect(reply.status).toBe(503);
    expect(reply.text).toContain('shop has no running web container');
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
    known.add('files');
    router.table.set('files', 1, [up.target]);

    const clientHash = createHash('sha256');
    let sent = 0;
    const req = http.request({
      host: '127.0.0.1',
      port: routerPort,
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
    known.add('files');
    router.table.set('files', 1, [up.target]);

    const { status, bytes, sha256 } = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: routerPort, path: '/big', headers: { host: 'files.test.local' }, agent: false }, (res) => {
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
    known.add('files');
    router.table.set('files', 1, [up.target]);
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);

    const { bytes, sha256 } = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const options = { host: '127.0.0.1', port: routerPort, path: '/slow', headers: { host: 'files.test.local' } };
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

describe('upstream errors', () => {
  test('an upstream that drops the connection before answering gives a 502 page naming the app, without a stack trace', async () => {
    const up = await upstream((req) => req.socket.destroy());
    known.add('crashy');
    router.table.set('crashy', 1, [up.target]);

    const reply = await get('crashy', '/boom');

    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.text).toContain('<h1>Bad gateway</h1>');
    expect(reply.text).toContain('crashy could not be reached.');
    expect(reply.text).not.toMatch(/Error|ECONN|hang up|\n\s+at |node:|\.[jt]s:\d+/);
    // The router is still fine afterwards, and the target was not taken out for a reset.
    expect(router.table.isDown(targetKey(up.target))).toBe(false);
    expect(router.table.activeRequests([up.target])).toBe(0);
  });

  test('an upstream that never answers gives 504 after upstreamTimeoutMs', async () => {
    const { router: timed, port } = await makeRouter({ upstreamTimeoutMs: 300 });
    const arrived = deferred();
    const up = await upstream(() => arrived.resolve()); // never answers
    known.add('slowpoke');
    timed.table.set('slowpoke', 1, [up.target]);

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
});

describe('switching deployments', () => {
  test('keep-alive clients see no failure across a switch, and every request started after set() is answered by the new upstream', async () => {
    const a = await textUpstream('A');
    const b = await textUpstream('B');
    known.add('a');
    router.table.set('a', 1, [a.target]);
    let connections = 0;
    router.server.on('connection', () => connections++);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    agents.push(agent);

    interface Outcome {
      startedAfterSwitch: boolean;
      status: number;
      body: string;
      error?: string;
    }
    const outcomes: Outcome[] = [];
    let switched = false;
    let doneAfterSwitch = 0;
    const deadline = Date.now() + 3000;

    const worker = async (): Promise<void> => {
      while (Date.now() < deadline && doneAfterSwitch < 200) {
        const startedAfterSwitch = switched;
        try {
          const reply = await send({ host: 'a.test.local', agent });
          outcomes.push({ startedAfterSwitch, status: reply.status, body: reply.text });
        } catch (error) {
          outcomes.push({ startedAfterSwitch, status: 0, body: '', error: String(error) });
        }
        if (startedAfterSwitch) doneAfterSwitch++;
      }
    };
    const workers = [worker(), worker(), worker(), worker()];

    expect(await until(() => outcomes.length >= 40, 2000)).toBe(true);
    router.table.set('a', 2, [b.target]);
    switched = true;
    await Promise.all(workers);

    expect(outcomes.filter((o) => o.status !== 200 || o.error !== undefined)).toEqual([]);
    const before = outcomes.filter((o) => !o.startedAfterSwitch);
    const after = outcomes.filter((o) => o.startedAfterSwitch);
    expect(before.length).toBeGreaterThanOrEqual(40);
    expect(before.filter((o) => o.body === 'A').length).toBeGreaterThanOrEqual(40);
    expect(after.length).toBeGreaterThanOrEqual(200);
    expect(after.filter((o) => o.body !== 'B')).toEqual([]);
    expect(router.table.deploymentOf('a')).toBe(2);
    // The clients really reused their connections across the switch.
    expect(connections).toBeLessThanOrEqual(4);
  });
});

describe('drain', () => {
  test('resolves only once the slow request in flight on the old target has completed', async () => {
    const events: string[] = [];
    const arrived = deferred();
    const a = await upstream((req, res) => {
      arrived.resolve();
      setTimeout(() => {
        events.push('slow request completed');
        res.end('slow done');
      }, 500);
    });
    const b = await textUpstream('B');
    known.add('app');
    router.table.set('app', 1, [a.target]);

    const slow = send({ host: 'app.test.local', path: '/slow' });
    await withTimeout(arrived.promise, 2000, 'the slow request never reached upstream A');
    router.table.set('app', 2, [b.target]);
    expect((await get('app')).text).toBe('B');
    expect(router.table.activeRequests([a.target])).toBe(1);

    const started = Date.now();
    await router.drain([a.target], 5000);
    events.push('drained');

    expect(events).toEqual(['slow request completed', 'drained']);
    expect(router.table.activeRequests([a.target])).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000); // it ended because the request did, not at the timeout
    const reply = await slow;
    expect([reply.status, reply.text]).toEqual([200, 'slow done']);
  });

  test('returns after its timeout when a request on the target hangs', async () => {
    const arrived = deferred();
    const hung = await upstream(() => arrived.resolve()); // never answers
    known.add('app');
    router.table.set('app', 1, [hung.target]);

    const pending = send({ host: 'app.test.local', path: '/hang' });
    pending.catch(() => undefined); // destroyed in afterEach
    await withTimeout(arrived.promise, 2000, 'the request never reached the hanging upstream');
    expect(router.table.activeRequests([hung.target])).toBe(1);

    const outcome = await withTimeout(
      router.drain([hung.target], 300).then(() => 'resolved'),
      3000,
      'drain did not return after its 300 ms timeout',
    );

    expect(outcome).toBe('resolved');
    expect(router.table.activeRequests([hung.target])).toBe(1);
  });
});

describe('upgrades and streaming responses', () => {
  test('a WebSocket-style upgrade gets 101 from the upstream and its bytes echoed both ways', async () => {
    let upgradeRequest: http.IncomingMessage | undefined;
    const up = await textUpstream('plain');
    up.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upgradeRequest = req;
      rawSockets.add(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
    known.add('chat');
    router.table.set('chat', 1, [up.target]);

    const { res, socket, head } = await withTimeout(
      new Promise<{ res: http.IncomingMessage; socket: net.Socket; head: Buffer }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: routerPort,
          path: '/ws?room=1',
          headers: { host: 'chat.test.local', connection: 'Upgrade', upgrade: 'websocket' },
        });
        clientRequests.push(req);
        req.on('upgrade', (r: http.IncomingMessage, s: net.Socket, h: Buffer) => {
          rawSockets.add(s);
          resolve({ res: r, socket: s, head: h });
        });
        req.on('response', (r) => reject(new Error(`expected an upgrade, got ${r.statusCode}`)));
        req.on('error', reject);
        req.end();
      }),
      3000,
      'no upgrade',
    );

    expect(res.statusCode).toBe(101);
    expect(res.headers.upgrade).toBe('websocket');
    expect(upgradeRequest?.url).toBe('/ws?room=1');
    expect(upgradeRequest?.headers.upgrade).toBe('websocket');
    expect(upgradeRequest?.headers.connection).toBe('Upgrade');
    expect(upgradeRequest?.headers['x-forwarded-host']).toBe('chat.test.local');
    expect(upgradeRequest?.headers['x-request-id']).toMatch(UUID);

    let echoed = head.toString('utf8');
    const got = (text: string): Promise<void> =>
      withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (echoed.includes(text)) {
              socket.off('data', onData);
              resolve();
            }
          };
          const onData = (c: Buffer): void => {
            echoed += c.toString('utf8');
            check();
          };
          socket.on('data', onData);
          check();
        }),
        2000,
        `echo of ${text}`,
      );

    socket.write('ping-1');
    await got('ping-1');
    socket.write('pong-2 ✓');
    await got('pong-2 ✓');
    expect(echoed).toBe('ping-1pong-2 ✓');
    expect(router.table.activeRequests([up.target])).toBe(1);

    socket.destroy();
    expect(await until(() => router.table.activeRequests([up.target]) === 0, 2000)).toBe(true);
  });

  test('server-sent events are relayed as they are written, not when the response ends', async () => {
    const release = deferred();
    const up = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: tick\ndata: first\n\n');
      void release.promise.then(() => res.end('event: tick\ndata: second\n\n'));
    });
    known.add('feed');
    router.table.set('feed', 1, [up.target]);

    let received = '';
    let ended = false;
    const firstEvent = deferred();
    const end = deferred();
    const req = http.get({ host: '127.0.0.1', port: routerPort, path: '/events', headers: { host: 'feed.test.local', accept: 'text/event-stream' }, agent: false }, (res) => {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        received += c;
        if (received.includes('data: first\n\n')) firstEvent.resolve();
      });
      res.on('end', () => {
        ended = true;
        end.resolve();
      });
    });
    clientRequests.push(req);

    try {
      await withTimeout(firstEvent.promise, 2000, 'the first event did not arrive before the upstream was told to go on');
      expect(received).toBe('event: tick\ndata: first\n\n');
      expect(ended).toBe(false);
    } finally {
      release.resolve();
    }
    await withTimeout(end.promise, 2000, 'the stream did not end');
    expect(received).toBe('event: tick\ndata: first\n\nevent: tick\ndata: second\n\n');
  });
});

describe('RouteTable: targets in and out of rotation', () => {
  const t = (port: number): RouteTarget => ({ host: '127.0.0.1', port, container: `web-${port}` });

  test('targetKey is host:port', () => {
    expect(targetKey({ host: '10.1.2.3', port: 8080, container: 'web-1' })).toBe('10.1.2.3:8080');
  });

  test('a down target is skipped until marked up; all down means no pick', () => {
    const table = new RouteTable();
    table.set('shop', 1, [t(1), t(2), t(3)]);
    table.markDown('127.0.0.1:2');
    expect(table.isDown('127.0.0.1:2')).toBe(true);
    expect([1, 2, 3, 4].map(() => table.pick('shop')?.port)).toEqual([1, 3, 1, 3]);
    table.markUp('127.0.0.1:2');
    expect(table.isDown('127.0.0.1:2')).toBe(false);
    expect([1, 2, 3].map(() => table.pick('shop')?.port)).toEqual([1, 2, 3]);
    for (const p of [1, 2, 3]) table.markDown(`127.0.0.1:${p}`);
    expect(table.pick('shop')).toBeUndefined();
  });

  test('set puts its targets back in rotation', () => {
    const table = new RouteTable();
    table.markDown('127.0.0.1:1');
    table.markDown('127.0.0.1:9');
    table.set('shop', 2, [t(1), t(2)]);
    expect(table.isDown('127.0.0.1:1')).toBe(false);
    expect(table.isDown('127.0.0.1:9')).toBe(true);
    expect(table.pick('shop')?.port).toBe(1);
  });

  test('isRouted follows the current routes only', () => {
    const table = new RouteTable();
    table.set('shop', 1, [t(1)]);
    table.set('blog', 1, [t(5)]);
    expect(table.isRouted('127.0.0.1:1')).toBe(true);
    table.set('shop', 2, [t(2)]);
    expect(table.isRouted('127.0.0.1:1')).toBe(false);
    expect(table.isRouted('127.0.0.1:2')).toBe(true);
    table.delete('blog');
    expect(table.isRouted('127.0.0.1:5')).toBe(false);
  });
});

describe('regressions', () => {


  function echoUpgrades(up: Upstream): void {
    up.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      rawSockets.add(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
  }

  test('a client that gives up on a GET is not sent to the app a second time', async () => {
    const seen: string[] = [];
    const up = await upstream((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 1500);
      else res.end('fast');
    });
    known.add('shop');
    router.table.set('shop', 1, [up.target]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);

    expect((await send({ host: 'shop.test.local', path: '/fast', agent })).text).toBe('fast');
    const slow = http.get({ host: '127.0.0.1', port: routerPort, path: '/slow', headers: { host: 'shop.test.local' }, agent: false });
    slow.on('error', () => undefined);
    await until(() => seen.includes('/slow'), 2000);
    slow.destroy();

    expect(await until(() => router.table.activeRequests([up.target]) === 0, 1000)).toBe(true);
    await sleep(200);
    expect(seen).toEqual(['/fast', '/slow']);
  });

  test('close() resolves while an upgraded connection is open', async () => {
    const up = await textUpstream('plain');
    echoUpgrades(up);
    known.add('chat');
    router.table.set('chat', 1, [up.target]);
    expect(await upgradeStatus('chat.test.local')).toBe(101);
    await withTimeout(router.close(), 2000, 'router.close() with an open upgrade');
  });

  test('an upgrade skips a refusing target, which is taken out of rotation', async () => {
    const dead: RouteTarget = { host: '127.0.0.1', port: await closedPort(), container: 'dead' };
    const live = await textUpstream('plain');
    echoUpgrades(live);
    known.add('chat');
    router.table.set('chat', 1, [dead, live.target]);
    expect(await upgradeStatus('chat.test.local')).toBe(101);
    expect(router.table.isDown(targetKey(dead))).toBe(true);
  });

  test('an upgrade for a known app with nothing running gets 503, an unknown host 404', async () => {
    known.add('idle');
    expect(await upgradeStatus('idle.test.local')).toBe(503);
    expect(await upgradeStatus('nobody.test.local')).toBe(404);
  });

  test('a streamed response may pause longer than the upstream timeout', async () => {
    ({ router, port: routerPort } = await makeRouter({ upstreamTimeoutMs: 300 }));
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 600);
    });
    known.add('feed');
    router.table.set('feed', 1, [up.target]);
    const reply = await send({ host: 'feed.test.local' });
    expect(reply.text).toBe('data: 1\n\ndata: 2\n\n');
  });

  test('headers named in Connection are not forwarded', async () => {
    const up = await textUpstream('ok');
    known.add('shop');
    router.table.set('shop', 1, [up.target]);
    await send({ host: 'shop.test.local', headers: { connection: 'close, x-secret', 'x-secret': 'hop only', 'x-kept': 'yes' } });
    expect(up.seen[0]?.headers['x-secret']).toBeUndefined();
    expect(up.seen[0]?.headers['x-kept']).toBe('yes');
  });
});
