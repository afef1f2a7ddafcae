import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AccessBatcher, type AppTraffic } from '../../src/router/access.js';
import { onMessages, sendMessage } from '../../src/router/channel.js';
import { RouterInstance, type InstanceOptions } from '../../src/router/instance.js';
import { RouterLink } from '../../src/router/link.js';
import type { RouterReply, RouterRequest } from '../../src/router/messages.js';
import type { RouteTarget } from '../../src/store/store.js';

const target = (port: number): RouteTarget => ({ host: '127.0.0.1', port, container: `web-${port}` });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-link-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A router's end of the channel: records what it gets, answers when told to. */
async function fakeRouter(socketPath: string, answer = true): Promise<{ got: RouterRequest[]; socket: net.Socket; answerAll(): void }> {
  const got: RouterRequest[] = [];
  const socket = net.connect(socketPath);
  await new Promise((resolve) => socket.once('connect', resolve));
  onMessages<RouterRequest>(
    socket,
    (request) => {
      got.push(request);
      if (answer) sendMessage(socket, { type: 'done', id: request.id } satisfies RouterReply);
    },
    () => undefined,
  );
  return { got, socket, answerAll: () => got.forEach((r) => sendMessage(socket, { type: 'done', id: r.id })) };
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
}

describe('RouterLink (the server side of the channel)', () => {
  test('a router that connects gets the whole state first, then each change; deleted apps are not in it', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    try {
      await link.setDirectory({ apps: ['shop', 'blog'], domains: [['www.shop.test', 'shop']], maintenance: [] });
      await link.switchTo('shop', 3, [target(20001)]);
      await link.switchTo('blog', 1, [target(20002)]);
      await link.setDirectory({ apps: ['shop'], domains: [], maintenance: ['shop'] });
      await link.listen();
      const router = await fakeRouter(path.join(dir, 'router.sock'));
      await until(() => router.got.length === 1);
      expect(router.got[0]).toMatchObject({
        type: 'state',
        directory: { apps: ['shop'], domains: [], maintenance: ['shop'] },
        routes: [{ app: 'shop', deployment: 3, targets: [target(20001)] }],
      });
      await link.switchTo('shop', 4, [target(20003)]);
      expect(router.got[1]).toMatchObject({ type: 'route', app: 'shop', deployment: 4 });
      router.socket.destroy();
    } finally {
      await link.close();
    }
  });

  test('a switch resolves once every connected router answered, or went away', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    try {
      await link.listen();
      const quick = await fakeRouter(path.join(dir, 'router.sock'));
      const slow = await fakeRouter(path.join(dir, 'router.sock'), false);
      await until(() => link.connected === 2 && slow.got.length === 1);
      let done = false;
      const switched = link.switchTo('shop', 1, [target(20001)]).then(() => (done = true));
      await until(() => quick.got.length === 2 && slow.got.length === 2);
      await new Promise((r) => setTimeout(r, 50));
      expect(done).toBe(false);
      slow.answerAll();
      await switched;

      const next = link.switchTo('shop', 2, [target(20002)]);
      await until(() => slow.got.length === 3);
      slow.socket.destroy();
      await next;
      quick.socket.destroy();
    } finally {
      await link.close();
    }
  });

  test('certificates and challenges are whole sets: a router that connects gets the last of each in its state', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    try {
      const cert = { hostnames: ['www.shop.test'], cert: 'CERT PEM', key: 'KEY PEM' };
      await link.setCertificates([{ hostnames: ['old.shop.test'], cert: 'OLD', key: 'OLD' }]);
      await link.setCertificates([cert]);
      await link.setChallenges([['tok1', 'tok1.thumb']]);
      await link.listen();
      const router = await fakeRouter(path.join(dir, 'router.sock'));
      await until(() => router.got.length === 1);
      expect(router.got[0]).toMatchObject({ type: 'state', certificates: [cert], challenges: [['tok1', 'tok1.thumb']] });
      await link.setChallenges([]);
      await link.setCertificates([]);
      expect(router.got.slice(1)).toMatchObject([
        { type: 'challenges', challenges: [] },
        { type: 'certificates', certificates: [] },
      ]);
      router.socket.destroy();
    } finally {
      await link.close();
    }
  });

  test('the apps followed are in the state of a router that connects, and each change is sent whole', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    try {
      await link.follow(['shop']);
      await link.listen();
      const router = await fakeRouter(path.join(dir, 'router.sock'));
      await until(() => router.got.length === 1);
      expect(router.got[0]).toMatchObject({ type: 'state', followed: ['shop'] });
      await link.follow(['shop', 'blog']);
      await link.follow([]);
      expect(router.got.slice(1)).toMatchObject([
        { type: 'follow', apps: ['shop', 'blog'] },
        { type: 'follow', apps: [] },
      ]);
      router.socket.destroy();
    } finally {
      await link.close();
    }
  });

  test('sendLines resolves once every router sent its lines (they arrive first), or after the wait for one that does not answer', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    const received: AppTraffic[] = [];
    link.onRequests((traffic) => received.push(...traffic));
    await link.listen();
    const router = await fakeRouter(path.join(dir, 'router.sock'), false);
    await until(() => router.got.length === 1); // the state
    router.answerAll();
    const asked = link.sendLines(30_000);
    await until(() => router.got.length === 2);
    expect(router.got[1]).toMatchObject({ type: 'send-lines' });
    const traffic: AppTraffic = { app: 'shop', statuses: { 200: 1 }, durations: { 200: [1] }, bytes: 2, retries: 0, lines: [] };
    sendMessage(router.socket, { type: 'requests', traffic: [traffic] });
    sendMessage(router.socket, { type: 'done', id: router.got[1]!.id });
    await asked;
    expect(received).toEqual([traffic]);
    // A router that does not answer: the reader gets what the server has after the wait.
    await link.sendLines(200);
    expect(router.got.at(-1)).toMatchObject({ type: 'send-lines' });
    router.socket.destroy();
    await link.close();
  });

  test('with no router connected, changes resolve at once', async () => {
    const link = new RouterLink(path.join(dir, 'router.sock'), () => undefined);
    await link.listen();
    await link.switchTo('shop', 1, [target(20001)]);
    await link.drain([target(20001)], 30_000);
    await link.close();
  });
});

describe('RouterInstance (what the router process and each worker hold)', () => {
  test('the directory drops the routes of apps that are gone, in one place', async () => {
    const instance = new RouterInstance({ domain: 'test.local' });
    await instance.apply({
      type: 'state',
      directory: { apps: ['shop', 'blog'], domains: [], maintenance: [] },
      routes: [
        { app: 'shop', deployment: 1, targets: [target(20001)] },
        { app: 'blog', deployment: 2, targets: [target(20002)] },
      ],
      certificates: [],
      challenges: [],
      followed: [],
    });
    await instance.apply({ type: 'route', app: 'shop', deployment: 3, targets: [target(20003)] });
    await instance.apply({ type: 'directory', directory: { apps: ['shop'], domains: [], maintenance: [] } });
    expect(instance.state()).toEqual({
      type: 'state',
      directory: { apps: ['shop'], domains: [], maintenance: [] },
      routes: [{ app: 'shop', deployment: 3, targets: [target(20003)] }],
      certificates: [],
      challenges: [],
      followed: [],
    });
    await instance.close();
  });
});

/** A router instance serving the app `shop` from a real upstream answering "hi", on a free port. */
async function shopRouter(options: Partial<InstanceOptions> = {}): Promise<{ instance: RouterInstance; routerPort: number; close(): Promise<void> }> {
  const upstream = http.createServer((_req, res) => res.end('hi'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as net.AddressInfo).port;
  const instance = new RouterInstance({ domain: 'test.local', ...options });
  await instance.apply({
    type: 'state',
    directory: { apps: ['shop'], domains: [], maintenance: [] },
    routes: [{ app: 'shop', deployment: 1, targets: [target(port)] }],
    certificates: [],
    challenges: [],
    followed: [],
  });
  await instance.listen(0, '127.0.0.1');
  return {
    instance,
    routerPort: (instance.server.address() as net.AddressInfo).port,
    close: async () => {
      await instance.close();
      await new Promise((resolve) => upstream.close(resolve));
    },
  };
}

describe('access lines through a real router', () => {
  test('an app nobody follows sends its latest `lines`; once followed, every line; the state carries who is followed', async () => {
    const sent: AppTraffic[] = [];
    const access = new AccessBatcher((traffic) => sent.push(...traffic), false, 2, 60_000);
    const { instance, routerPort, close } = await shopRouter({ access });
    try {
      const get = (id: string): Promise<void> =>
        new Promise((resolve, reject) => {
          http
            .get({ port: routerPort, host: '127.0.0.1', path: `/${id}`, headers: { host: 'shop.test.local', 'x-request-id': id }, agent: false }, (res) => {
              expect(res.statusCode).toBe(200);
              res.resume();
              res.once('end', resolve);
            })
            .once('error', reject);
        });
      for (const id of ['a1', 'a2', 'a3', 'a4']) await get(id);
      // What the server sends when someone reads the lines.
      await instance.apply({ type: 'send-lines' });
      expect(sent.map((t) => [t.statuses, t.lines.map((r) => r[8])])).toEqual([[{ 200: 4 }, ['a3', 'a4']]]);
      sent.length = 0;
      await instance.apply({ type: 'follow', apps: ['shop'] });
      expect(instance.state()).toMatchObject({ followed: ['shop'] });
      for (const id of ['b1', 'b2', 'b3']) await get(id);
      access.flush();
      expect(sent.map((t) => t.lines.map((r) => r[8]))).toEqual([['b1', 'b2', 'b3']]);
    } finally {
      access.close();
      await close();
    }
  }, 20_000);
});

describe('Router.retire (handing the port over)', () => {
  test('a keep-alive client gets Connection: close on its next response, and retire ends once it has gone', async () => {
    const { instance, routerPort, close } = await shopRouter();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (): Promise<{ status: number; connection: string | undefined }> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: routerPort, path: '/', headers: { host: 'shop.test.local' }, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          })
          .on('error', reject);
      });
    try {
      expect(await get()).toEqual({ status: 200, connection: 'keep-alive' });
      const retired = instance.retire(10_000);
      // The connection the client already has is still served, and told to close.
      expect(await get()).toEqual({ status: 200, connection: 'close' });
      await retired;
      // No one accepts any more (a successor would).
      await expect(get()).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      agent.destroy();
      await close();
    }
  }, 15_000);
});
