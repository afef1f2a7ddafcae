import http from 'node:http';
import net from 'node:net';

import { clientRequests, deferred, get, rawSockets, send, textUpstream, upstream, useRouter, withTimeout, world } from './support.js';

useRouter();

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
    world.known.add('app');
    world.router.switchTo('app', 1, [a.target]);

    const slow = send({ host: 'app.test.local', path: '/slow' });
    await withTimeout(arrived.promise, 2000, 'the slow request never reached upstream A');
    world.router.switchTo('app', 2, [b.target]);
    expect((await get('app')).text).toBe('B');
    expect(world.router.table.activeRequests([a.target])).toBe(1);

    const started = Date.now();
    await world.router.drain([a.target], 5000);
    events.push('drained');

    expect(events).toEqual(['slow request completed', 'drained']);
    expect(world.router.table.activeRequests([a.target])).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000); // it ended because the request did, not at the timeout
    const reply = await slow;
    expect([reply.status, reply.text]).toEqual([200, 'slow done']);
  });

  test('returns after its timeout when a request on the target hangs', async () => {
    const arrived = deferred();
    const hung = await upstream(() => arrived.resolve()); // never answers
    world.known.add('app');
    world.router.switchTo('app', 1, [hung.target]);

    const pending = send({ host: 'app.test.local', path: '/hang' });
    pending.catch(() => undefined); // destroyed in afterEach
    await withTimeout(arrived.promise, 2000, 'the request never reached the hanging upstream');
    expect(world.router.table.activeRequests([hung.target])).toBe(1);

    const outcome = await withTimeout(
      world.router.drain([hung.target], 300).then(() => 'resolved'),
      3000,
      'drain did not return after its 300 ms timeout',
    );

    expect(outcome).toBe('resolved');
    expect(world.router.table.activeRequests([hung.target])).toBe(1);
  });

  test('closes the WebSockets open to the drained target at once and resolves without waiting for its timeout; clients reconnect to the new target', async () => {
    const old = await textUpstream('old');
    const next = await textUpstream('new');
    for (const up of [old, next]) {
      up.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
        rawSockets.add(socket);
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Release: ${up === old ? 'old' : 'new'}\r\n\r\n`);
        socket.pipe(socket);
      });
    }
    world.known.add('chat');
    world.router.switchTo('chat', 1, [old.target]);
    const open = (): Promise<{ release: string; socket: net.Socket }> =>
      withTimeout(
        new Promise((resolve, reject) => {
          const req = http.request({
            host: '127.0.0.1',
            port: world.routerPort,
            path: '/ws',
            headers: { host: 'chat.test.local', connection: 'Upgrade', upgrade: 'websocket' },
          });
          clientRequests.push(req);
          req.on('upgrade', (res: http.IncomingMessage, socket: net.Socket) => {
            rawSockets.add(socket);
            resolve({ release: String(res.headers['x-release']), socket });
          });
          req.on('error', reject);
          req.end();
        }),
        3000,
        'upgrade',
      );
    const first = await open();
    expect(first.release).toBe('old');
    const closedByRouter = new Promise<void>((resolve) => first.socket.once('close', () => resolve()));
    expect(world.router.table.activeRequests([old.target])).toBe(1);

    world.router.switchTo('chat', 2, [next.target]);
    // A drain timeout far beyond this test's: it must end because the WebSocket was closed.
    await world.router.drain([old.target], 60_000);
    await closedByRouter;
    expect(world.router.table.activeRequests([old.target])).toBe(0);
    expect((await open()).release).toBe('new');
  }, 10_000);

  test('an upgrade the old target accepts (101) only after its drain began is closed at once, and the drain ends', async () => {
    const asked = deferred();
    const old = await textUpstream('old');
    let accept: () => void = () => undefined;
    old.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      rawSockets.add(socket);
      accept = () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      asked.resolve();
    });
    const next = await textUpstream('new');
    world.known.add('chat');
    world.router.switchTo('chat', 1, [old.target]);
    const req = http.request({
      host: '127.0.0.1',
      port: world.routerPort,
      path: '/ws',
      headers: { host: 'chat.test.local', connection: 'Upgrade', upgrade: 'websocket' },
    });
    clientRequests.push(req);
    const closed = new Promise<void>((resolve) => {
      req.on('upgrade', (_res: http.IncomingMessage, socket: net.Socket) => socket.once('close', () => resolve()));
      req.on('error', () => resolve());
    });
    req.end();
    await withTimeout(asked.promise, 3000, 'the upgrade never reached the old target');

    world.router.switchTo('chat', 2, [next.target]);
    const drained = world.router.drain([old.target], 60_000);
    expect(world.router.table.activeRequests([old.target])).toBe(1);
    accept();
    await drained;
    await closed;
    expect(world.router.table.activeRequests([old.target])).toBe(0);
  }, 10_000);
});
