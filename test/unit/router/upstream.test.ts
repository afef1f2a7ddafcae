import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Router } from '../../../src/router/proxy.js';
import { UpstreamPool } from '../../../src/router/upstream.js';
import type { RouteTarget } from '../../../src/store/store.js';

// How the router's own upstream client frames what apps send back: every way an HTTP/1.1
// response can end, interim responses, connection reuse and what must not be reused. Requests go
// over a keep-alive agent, so plain ones take the router's fast path (its own request parsing and
// response writing), and those with a body go through Node's HTTP server on the same connections.

const servers: net.Server[] = [];
let router: Router;
let routerPort: number;
let keepAlive: http.Agent;

function portOf(server: net.Server): number {
  return (server.address() as AddressInfo).port;
}

async function listen<T extends net.Server>(server: T): Promise<T> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

function route(server: net.Server): void {
  const target: RouteTarget = { host: '127.0.0.1', port: portOf(server), container: 'web-1' };
  router.switchTo('app', 1, [target]);
}

/** A raw upstream: each connection gets `reply` written once its request head has arrived. */
async function rawUpstream(reply: string, after: 'keep' | 'end' = 'keep'): Promise<net.Server> {
  return listen(
    net.createServer((socket) => {
      let seen = '';
      socket.on('data', (d) => {
        seen += d.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        seen = '';
        if (after === 'end') socket.end(reply);
        else socket.write(reply);
      });
      socket.on('error', () => undefined);
    }),
  );
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | string[]; agent?: http.Agent }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: routerPort,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { ...options.headers, host: 'app.test.local' },
        agent: options.agent ?? keepAlive,
      },
      (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(4000, () => req.destroy(new Error('timed out')));
    if (Array.isArray(options.body)) {
      for (const part of options.body) req.write(part);
      req.end();
    } else req.end(options.body);
  });
}

beforeEach(async () => {
  router = new Router({ domain: 'test.local', appExists: (app) => app === 'app', appForCustomDomain: () => undefined });
  await router.listen(0, '127.0.0.1');
  routerPort = portOf(router.server);
  keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
});

afterEach(async () => {
  keepAlive.destroy();
  await router.close();
  await Promise.all(
    servers.splice(0).map((s) => {
      if (s instanceof http.Server) s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
});

test('a chunked response is relayed whole, its chunks decoded and framed again', async () => {
  route(
    await listen(
      http.createServer((_req, res) => {
        res.write('first,');
        setTimeout(() => res.end('second'), 20);
      }),
    ),
  );
  const reply = await send({});
  expect([reply.status, reply.text]).toEqual([200, 'first,second']);
  expect(reply.headers['transfer-encoding']).toBe('chunked');
});

test('a response without length ends when the upstream closes the connection', async () => {
  route(await rawUpstream('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', 'end'));
  const reply = await send({});
  expect([reply.status, reply.text]).toEqual([200, 'until the end']);
});

test('HEAD, 204 and 304 responses have no body even when they announce a length', async () => {
  route(
    await listen(
      http.createServer((req, res) => {
        if (req.url === '/204') res.writeHead(204).end();
        else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
        else res.writeHead(200, { 'content-length': '11' }).end(req.method === 'HEAD' ? undefined : 'hello world');
      }),
    ),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const head = await send({ method: 'HEAD', agent });
    expect([head.status, head.headers['content-length'], head.text]).toEqual([200, '11', '']);
    expect((await send({ path: '/204', agent })).status).toBe(204);
    const notModified = await send({ path: '/304', agent });
    expect([notModified.status, notModified.headers.etag]).toEqual([304, '"x"']);
    expect((await send({ agent })).text).toBe('hello world');
  } finally {
    agent.destroy();
  }
});

test('interim 100 and 103 responses are skipped; the final one is relayed', async () => {
  route(await rawUpstream('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  const reply = await send({});
  expect([reply.status, reply.text]).toEqual([200, 'ok']);
});

test('sequential requests reuse one upstream connection; Connection: close is honoured', async () => {
  let connections = 0;
  const server = await listen(
    http.createServer((req, res) => {
      if (req.url === '/close') res.setHeader('connection', 'close');
      res.end(`on ${req.socket.remotePort}`);
    }),
  );
  server.on('connection', () => connections++);
  route(server);
  const first = await send({});
  const second = await send({});
  expect(second.text).toBe(first.text);
  expect(connections).toBe(1);
  await send({ path: '/close' });
  const after = await send({});
  expect(after.text).not.toBe(first.text);
  expect(connections).toBe(2);
});

test('a chunked request body reaches the upstream intact', async () => {
  route(
    await listen(
      http.createServer((req, res) => {
        let body = '';
        req.setEncoding('latin1');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => res.end(`${req.headers['transfer-encoding']}:${body}`));
      }),
    ),
  );
  const reply = await send({ method: 'POST', body: ['one,', 'two,', 'three'] });
  expect(reply.text).toBe('chunked:one,two,three');
});

test('a response head that arrives in pieces is put together (each read reuses the same buffer)', async () => {
  const pieces = ['HTTP/1.1 200 OK\r\nContent-Ty', 'pe: text/plain\r\nX-Split: yes\r\nContent-Len', 'gth: 5\r\n\r\nhello'];
  route(
    await listen(
      net.createServer((socket) => {
        socket.once('data', async () => {
          for (const piece of pieces) {
            socket.write(piece);
            await new Promise((r) => setTimeout(r, 20));
          }
        });
        socket.on('error', () => undefined);
      }),
    ),
  );
  const reply = await send({});
  expect([reply.status, reply.headers['x-split'], reply.headers['content-type'], reply.text]).toEqual([200, 'yes', 'text/plain', 'hello']);
});

test('a malformed upstream response gives a 502 page', async () => {
  route(await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok'));
  const reply = await send({});
  expect(reply.status).toBe(502);
  expect(reply.text).toContain('app could not be reached.');
});

test('more body than Content-Length announced: the announced bytes go on, the connection is not reused', async () => {
  let connections = 0;
  const server = await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
  server.on('connection', () => connections++);
  route(server);
  expect((await send({})).text).toBe('ok');
  expect((await send({})).text).toBe('ok');
  expect(connections).toBe(2);
});

/** Writes `requests` on one raw connection and collects what comes back until `until` holds. */
async function rawExchange(requests: string[], until: (text: string) => boolean, gapMs = 0): Promise<string> {
  const socket = net.connect(routerPort, '127.0.0.1');
  let text = '';
  const done = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no full answer; got:\n${text}`)), 4000);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (until(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
  for (const request of requests) {
    socket.write(request);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  try {
    return await done;
  } finally {
    socket.destroy();
  }
}

const count = (text: string, part: string): number => text.split(part).length - 1;

describe('the fast path', () => {
  test('a keep-alive GET gets what Node would send: status, headers, Date, keep-alive, and forwarded headers upstream', async () => {
    let seen: http.IncomingHttpHeaders = {};
    route(
      await listen(
        http.createServer((req, res) => {
          seen = req.headers;
          res.writeHead(201, { 'x-up': 'yes', 'set-cookie': ['a=1', 'b=2'] }).end('made');
        }),
      ),
    );
    const reply = await send({ path: '/things?x=1', headers: { 'x-forwarded-for': '203.0.113.7', 'x-request-id': 'kept-id' } });
    expect([reply.status, reply.text]).toEqual([201, 'made']);
    expect(reply.headers['x-up']).toBe('yes');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(reply.headers.date).toBeDefined();
    expect(reply.headers.connection).toBe('keep-alive');
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-forwarded-host']).toBe('app.test.local');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-request-id']).toBe('kept-id');
    expect(seen.connection).toBe('keep-alive');
  });

  test('pipelined requests are answered in order', async () => {
    route(await listen(http.createServer((req, res) => res.end(`answer to ${req.url}`))));
    const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: app.test.local\r\n\r\n`;
    const text = await rawExchange([get('/one') + get('/two') + get('/three')], (t) => t.includes('answer to /three'));
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(3);
    expect(text.indexOf('answer to /one')).toBeLessThan(text.indexOf('answer to /two'));
    expect(text.indexOf('answer to /two')).toBeLessThan(text.indexOf('answer to /three'));
  });

  test("a request with a body on a fast connection hands it to Node's server, which answers it and the next", async () => {
    route(
      await listen(
        http.createServer((req, res) => {
          let body = '';
          req.setEncoding('latin1');
          req.on('data', (c: string) => (body += c));
          req.on('end', () => res.end(`${req.method} ${req.url} [${body}]`));
        }),
      ),
    );
    const text = await rawExchange(
      [
        'GET /first HTTP/1.1\r\nHost: app.test.local\r\n\r\n',
        'POST /second HTTP/1.1\r\nHost: app.test.local\r\nContent-Length: 5\r\n\r\nhello',
        'GET /third HTTP/1.1\r\nHost: app.test.local\r\n\r\n',
      ],
      (t) => t.includes('GET /third []'),
      30,
    );
    expect(text).toContain('GET /first []');
    expect(text).toContain('POST /second [hello]');
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(3);
  });

  test('a request head that arrives in pieces is answered', async () => {
    route(await listen(http.createServer((req, res) => res.end(`got ${req.url}`))));
    const text = await rawExchange(['GET /split HTTP/1.1\r\nHo', 'st: app.test.local\r\n', '\r\n'], (t) => t.includes('got /split'), 30);
    expect(text.startsWith('HTTP/1.1 200 OK')).toBe(true);
  });

  test('unknown hosts get the 404 page and apps with nothing running the 503 page', async () => {
    const text = await rawExchange(['GET / HTTP/1.1\r\nHost: nobody.test.local\r\n\r\nGET / HTTP/1.1\r\nHost: app.test.local\r\n\r\n'], (t) =>
      t.includes('has no running web container'),
    );
    expect(text).toContain('HTTP/1.1 404 Not Found');
    expect(text).toContain('No app is served at nobody.test.local.');
    expect(text).toContain('HTTP/1.1 503 Service Unavailable');
  });

  test('a client that leaves mid-request ends the upstream request and frees the target', async () => {
    const arrived: http.IncomingMessage[] = [];
    let upstreamClosed = false;
    const server = await listen(
      http.createServer((req) => {
        arrived.push(req);
        req.socket.on('close', () => (upstreamClosed = true));
      }),
    );
    route(server);
    const socket = net.connect(routerPort, '127.0.0.1');
    socket.write('GET /hang HTTP/1.1\r\nHost: app.test.local\r\n\r\n');
    for (let i = 0; i < 100 && arrived.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(arrived).toHaveLength(1);
    const target: RouteTarget = { host: '127.0.0.1', port: portOf(server), container: 'web-1' };
    expect(router.table.activeRequests([target])).toBe(1);
    socket.destroy();
    for (let i = 0; i < 100 && !upstreamClosed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(upstreamClosed).toBe(true);
    expect(router.table.activeRequests([target])).toBe(0);
  });

  test('a response header Node would refuse to send gives a 502 page', async () => {
    route(await rawUpstream('HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok'));
    const reply = await send({});
    expect(reply.status).toBe(502);
  });
});

describe("an upstream connection's read buffer", () => {
  /** Connects through a pool to a server that writes `pieces` 20 ms apart; resolves with what onData got, as given. */
  async function reads(pieces: string[], hold: (index: number) => boolean): Promise<{ got: Buffer[]; copies: string[] }> {
    const server = await listen(
      net.createServer((socket) => {
        void (async () => {
          for (const piece of pieces) {
            socket.write(piece);
            await new Promise((r) => setTimeout(r, 20));
          }
          socket.end();
        })();
        socket.on('error', () => undefined);
      }),
    );
    const pool = new UpstreamPool();
    const got: Buffer[] = [];
    const copies: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const conn = pool.acquire({ host: '127.0.0.1', port: portOf(server), container: 'web-1' }, 'key', {
          onData(data) {
            if (hold(got.length)) conn.hold();
            got.push(data);
            copies.push(data.toString('latin1'));
          },
          onEnd: () => resolve(),
          onClose: (error) => (error ? reject(error) : resolve()),
          onDrain: () => undefined,
          onCrash: (error) => reject(error),
        });
      });
    } finally {
      pool.destroy();
    }
    return { got, copies };
  }

  test('is read into again while nobody holds what it was given', async () => {
    const { got, copies } = await reads(['first', 'second', 'third'], () => false);
    expect(copies).toEqual(['first', 'second', 'third']);
    expect(new Set(got.map((b) => b.buffer)).size).toBe(1);
  });

  test('is replaced after a read whose bytes are held, which stay as they were (the others are read over)', async () => {
    const { got, copies } = await reads(['first', 'second', 'third', 'fourth'], (index) => index === 1);
    expect(copies).toEqual(['first', 'second', 'third', 'fourth']);
    expect(got.map((b) => b.toString('latin1'))).toEqual(['secon', 'second', 'fourt', 'fourth']);
    expect(got[1]!.buffer).toBe(got[0]!.buffer);
    expect(got[2]!.buffer).not.toBe(got[1]!.buffer);
    expect(got[3]!.buffer).toBe(got[2]!.buffer);
  });
});
