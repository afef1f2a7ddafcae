import http from 'node:http';

import { agents, get, send, textUpstream, until, upgradeStatus, useRouter, world } from './support.js';

useRouter();

describe('routing by Host', () => {
  test("<app>.test.local reaches the app's upstream, with method, path and query unchanged", async () => {
    const up = await textUpstream('hello from shop');
    const other = await textUpstream('hello from blog');
    world.known.add('shop').add('blog');
    world.router.switchTo('shop', 1, [up.target]);
    world.router.switchTo('blog', 1, [other.target]);

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
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

    for (const host of ['shop.test.local:8080', 'SHOP.Test.LOCAL', 'Shop.TEST.local:443', 'shop.test.local.']) {
      const reply = await send({ host });
      expect({ host, status: reply.status, body: reply.text }).toEqual({ host, status: 200, body: 'shop' });
    }
    expect(up.seen.map((r) => r.headers.host)).toEqual(['shop.test.local:8080', 'SHOP.Test.LOCAL', 'Shop.TEST.local:443', 'shop.test.local.']);
  });

  test('a custom domain from appForCustomDomain reaches its app (port and case ignored)', async () => {
    const up = await textUpstream('shop via custom domain');
    world.known.add('shop');
    world.customDomains.set('www.shop.example', 'shop');
    world.router.switchTo('shop', 1, [up.target]);

    const plain = await send({ host: 'www.shop.example' });
    const withPort = await send({ host: 'WWW.Shop.Example:8443' });

    expect([plain.status, plain.text]).toEqual([200, 'shop via custom domain']);
    expect([withPort.status, withPort.text]).toEqual([200, 'shop via custom domain']);
    expect(world.customDomainLookups).toEqual(['www.shop.example', 'www.shop.example']);
    expect(up.seen).toHaveLength(2);
  });

  test('an unknown host gets 404 with a short HTML page', async () => {
    const up = await textUpstream('never');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);

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

  test("an app in maintenance gets a 503 maintenance page, fast path, Node's server and upgrades alike, until it is back", async () => {
    const up = await textUpstream('served');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [up.target]);
    world.maintenance.add('shop');

    for (const reply of [await get('shop'), await send({ host: 'shop.test.local', method: 'POST', body: 'order' })]) {
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBe('60');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.text).toContain('<h1>Down for maintenance</h1>');
      expect(reply.text).toContain('shop is down for maintenance and will be back shortly.');
    }
    expect(await upgradeStatus('shop.test.local')).toBe(503);
    expect(up.seen).toHaveLength(0);

    world.maintenance.delete('shop');
    expect((await get('shop')).text).toBe('served');
  });

  test('a known app with no route gets 503 naming the app', async () => {
    world.known.add('ghost');

    const reply = await get('ghost');

    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.text).toContain('<h1>App not running</h1>');
    expect(reply.text).toContain('ghost has no running web container');
  });

  test('a sub-sub-domain (a.b.test.local) gets 404 even when a and b are apps', async () => {
    const a = await textUpstream('a');
    const b = await textUpstream('b');
    world.known.add('a').add('b').add('a.b');
    world.router.switchTo('a', 1, [a.target]);
    world.router.switchTo('b', 1, [b.target]);

    const reply = await send({ host: 'a.b.test.local' });

    expect(reply.status).toBe(404);
    expect(reply.text).toContain('<h1>No such app</h1>');
    expect(a.seen).toHaveLength(0);
    expect(b.seen).toHaveLength(0);
    // Sanity: the same router does route a and b themselves.
    expect((await get('b')).text).toBe('b');
  });
});

describe('load balancing', () => {
  test('two targets take turns (round robin) over 10 requests', async () => {
    const a = await textUpstream('A');
    const b = await textUpstream('B');
    world.known.add('shop');
    world.router.switchTo('shop', 1, [a.target, b.target]);

    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) bodies.push((await get('shop')).text);

    expect(bodies).toEqual(['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B']);
    expect(a.seen).toHaveLength(5);
    expect(b.seen).toHaveLength(5);
  });
});

describe('switching deployments', () => {
  test('keep-alive clients see no failure across a switch, and every request started after set() is answered by the new upstream', async () => {
    const a = await textUpstream('A');
    const b = await textUpstream('B');
    world.known.add('a');
    world.router.switchTo('a', 1, [a.target]);
    let connections = 0;
    world.router.server.on('connection', () => connections++);
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
    world.router.switchTo('a', 2, [b.target]);
    switched = true;
    await Promise.all(workers);

    expect(outcomes.filter((o) => o.status !== 200 || o.error !== undefined)).toEqual([]);
    const before = outcomes.filter((o) => !o.startedAfterSwitch);
    const after = outcomes.filter((o) => o.startedAfterSwitch);
    expect(before.length).toBeGreaterThanOrEqual(40);
    expect(before.filter((o) => o.body === 'A').length).toBeGreaterThanOrEqual(40);
    expect(after.length).toBeGreaterThanOrEqual(200);
    expect(after.filter((o) => o.body !== 'B')).toEqual([]);
    expect(world.router.table.deploymentOf('a')).toBe(2);
    // The clients really reused their connections across the switch.
    expect(connections).toBeLessThanOrEqual(4);
  });
});
