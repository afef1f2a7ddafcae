import http from 'node:http';
import net from 'node:net';
import type { RouteTarget } from '../../../src/store/store.js';
import { targetKey } from '../../../src/router/table.js';
import {
  clientRequests,
  closedPort,
  deferred,
  echoUpgrades,
  rawSockets,
  textUpstream,
  until,
  upgradeStatus,
  upstream,
  useRouter,
  UUID,
  withTimeout,
  world,
} from './support.js';

useRouter();

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
    world.known.add('chat');
    world.router.switchTo('chat', 1, [up.target]);

    const { res, socket, head } = await withTimeout(
      new Promise<{ res: http.IncomingMessage; socket: net.Socket; head: Buffer }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: world.routerPort,
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
    expect(world.router.table.activeRequests([up.target])).toBe(1);

    socket.destroy();
    expect(await until(() => world.router.table.activeRequests([up.target]) === 0, 2000)).toBe(true);
  });

  test('server-sent events are relayed as they are written, not when the response ends', async () => {
    const release = deferred();
    const up = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: tick\ndata: first\n\n');
      void release.promise.then(() => res.end('event: tick\ndata: second\n\n'));
    });
    world.known.add('feed');
    world.router.switchTo('feed', 1, [up.target]);

    let received = '';
    let ended = false;
    const firstEvent = deferred();
    const end = deferred();
    const req = http.get(
      { host: '127.0.0.1', port: world.routerPort, path: '/events', headers: { host: 'feed.test.local', accept: 'text/event-stream' }, agent: false },
      (res) => {
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
      },
    );
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

  test('close() resolves while an upgraded connection is open', async () => {
    const up = await textUpstream('plain');
    echoUpgrades(up);
    world.known.add('chat');
    world.router.switchTo('chat', 1, [up.target]);
    expect(await upgradeStatus('chat.test.local')).toBe(101);
    await withTimeout(world.router.close(), 2000, 'world.router.close() with an open upgrade');
  });

  test('an upgrade skips a refusing target, which is taken out of rotation', async () => {
    const dead: RouteTarget = { host: '127.0.0.1', port: await closedPort(), container: 'dead' };
    const live = await textUpstream('plain');
    echoUpgrades(live);
    world.known.add('chat');
    world.router.switchTo('chat', 1, [dead, live.target]);
    expect(await upgradeStatus('chat.test.local')).toBe(101);
    expect(world.router.table.isDown(targetKey(dead))).toBe(true);
  });

  test('an upgrade for a known app with nothing running gets 503, an unknown host 404', async () => {
    world.known.add('idle');
    expect(await upgradeStatus('idle.test.local')).toBe(503);
    expect(await upgradeStatus('nobody.test.local')).toBe(404);
  });
});
