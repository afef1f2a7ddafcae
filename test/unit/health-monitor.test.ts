import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { RouteRecord, RouteTarget } from '../../src/store/store.js';

/** Two real containers stand-ins: each answers /up with the status the test sets. */
async function endpoint(status: { code: number; checks?: number }): Promise<{ port: number; close(): void }> {
  const server = http.createServer((_req, res) => {
    status.checks = (status.checks ?? 0) + 1;
    res.writeHead(status.code).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => (server.closeAllConnections(), server.close()) };
}

test('three failures in a row take a container out, never the last healthy one; a pass brings it back', async () => {
  const a = { code: 200 };
  const b: { code: number; checks?: number } = { code: 200 };
  const ea = await endpoint(a);
  const eb = await endpoint(b);
  const targets: RouteTarget[] = [
    { host: '127.0.0.1', port: ea.port, container: 'web-1' },
    { host: '127.0.0.1', port: eb.port, container: 'web-2' },
  ];
  const routed: string[][] = [];
  const monitor = new HealthMonitor({
    routes: (): RouteRecord[] => [{ app: 'app', deployment: 1, targets }],
    routeOf: (): RouteRecord => ({ app: 'app', deployment: 1, targets }),
    check: () => ({ path: '/up', host: 'app.localhost', timeoutMs: 500, intervalMs: 20 }),
    exclusive: (_app, task) => task(),
    route: async (_app, _d, t) => void routed.push(t.map((x) => x.container)),
    outOfRotation: { load: () => [], save: () => undefined },
    log: () => undefined,
  });
  monitor.start(10);
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    b.code = 500;
    await until(() => monitor.isUnhealthy('web-2'));
    expect(routed).toEqual([['web-1']]);
    a.code = 503;
    b.code = 200;
    await until(() => !monitor.isUnhealthy('web-2'));
    expect(routed[1]).toEqual(['web-1', 'web-2']);
    // web-1 fails now, with web-2 healthy: it leaves; then web-2 fails too and stays, being the last.
    await until(() => monitor.isUnhealthy('web-1'));
    await until(() => routed.length >= 3);
    expect(routed[2]).toEqual(['web-2']);
    b.code = 500;
    const from = b.checks ?? 0;
    await until(() => (b.checks ?? 0) >= from + 2 * 3);
    expect(monitor.isUnhealthy('web-2')).toBe(false);
    expect(routed).toHaveLength(3);
  } finally {
    monitor.stop();
    ea.close();
    eb.close();
  }
});

test('containers out of the rotation are saved, and a monitor that starts from them keeps them out until a check passes', async () => {
  const a = { code: 200 };
  const b: { code: number; checks?: number } = { code: 500 };
  const ea = await endpoint(a);
  const eb = await endpoint(b);
  const targets: RouteTarget[] = [
    { host: '127.0.0.1', port: ea.port, container: 'web-1' },
    { host: '127.0.0.1', port: eb.port, container: 'web-2' },
  ];
  const saved = new Map<string, string[]>([['app', ['web-2']]]);
  const routed: string[][] = [];
  const monitor = new HealthMonitor({
    routes: (): RouteRecord[] => [{ app: 'app', deployment: 1, targets }],
    routeOf: (): RouteRecord => ({ app: 'app', deployment: 1, targets }),
    check: () => ({ path: '/up', host: 'app.localhost', timeoutMs: 500, intervalMs: 20 }),
    exclusive: (_app, task) => task(),
    route: async (_app, _d, t) => void routed.push(t.map((x) => x.container)),
    outOfRotation: { load: () => [...saved].map(([app, containers]) => ({ app, containers })), save: (app, containers) => saved.set(app, containers) },
    log: () => undefined,
  });
  monitor.start(10);
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    // Out from the first moment, with no failed check of its own yet.
    expect(monitor.isUnhealthy('web-2')).toBe(true);
    await until(() => (b.checks ?? 0) >= 3);
    expect(monitor.isUnhealthy('web-2')).toBe(true);
    expect(routed.every((r) => r.join() === 'web-1')).toBe(true);
    b.code = 200;
    await until(() => !monitor.isUnhealthy('web-2'));
    await until(() => routed.at(-1)?.join() === 'web-1,web-2');
    expect(saved.get('app')).toEqual([]);
    a.code = 500;
    await until(() => monitor.isUnhealthy('web-1'));
    expect(saved.get('app')).toEqual(['web-1']);
  } finally {
    monitor.stop();
    ea.close();
    eb.close();
  }
});
