import { RouteTable, targetKey } from '../../src/router/table.js';
import type { RouteTarget } from '../../src/store/store.js';

const t = (port: number, container = `web-${port}`): RouteTarget => ({ host: '127.0.0.1', port, container });
const A = t(5001);
const B = t(5002);
const C = t(5003);

function picks(table: RouteTable, app: string, n: number, skip?: ReadonlySet<string>): (number | undefined)[] {
  return Array.from({ length: n }, () => table.pick(app, skip)?.port);
}

describe('targetKey', () => {
  test('is host:port', () => {
    expect(targetKey({ host: '10.0.0.5', port: 8080, container: 'web-1' })).toBe('10.0.0.5:8080');
  });
});

describe('RouteTable.pick', () => {
  test('round robin over the targets', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A, B, C]);
    expect(picks(table, 'shop', 7)).toEqual([5001, 5002, 5003, 5001, 5002, 5003, 5001]);
  });

  test('returns the target objects given', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A]);
    expect(table.pick('shop')).toEqual(A);
    expect(table.pick('shop')).toEqual(A);
  });

  test('skips refused targets', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A, B, C]);
    const skip = new Set([targetKey(B)]);
    expect(picks(table, 'shop', 5, skip)).toEqual([5001, 5003, 5001, 5003, 5001]);
  });

  test('continues the rotation after the skipped target', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A, B, C]);
    expect(table.pick('shop')?.port).toBe(5001);
    // Next in turn is B; it refused, so C is picked and A comes next.
    expect(table.pick('shop', new Set([targetKey(B)]))?.port).toBe(5003);
    expect(table.pick('shop')?.port).toBe(5001);
  });

  test('undefined for an unknown app', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A]);
    expect(table.pick('blog')).toBeUndefined();
  });

  test('undefined when every target is skipped', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A, B]);
    expect(table.pick('shop', new Set([targetKey(A), targetKey(B)]))).toBeUndefined();
    // Skipping does not break the route for later picks.
    expect(table.pick('shop')?.port).toBe(5001);
  });

  test('undefined for an app with no targets', () => {
    const table = new RouteTable();
    table.set('shop', 1, []);
    expect(table.pick('shop')).toBeUndefined();
    expect(table.deploymentOf('shop')).toBe(1);
  });

  test('skip matches host and port, not just port', () => {
    const table = new RouteTable();
    const other = { host: '10.0.0.2', port: 5001, container: 'web-9' };
    table.set('shop', 1, [A, other]);
    const skipOther = new Set(['10.0.0.2:5001']);
    expect([1, 2, 3].map(() => table.pick('shop', skipOther)?.host)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    expect(table.pick('shop', new Set(['127.0.0.1:5001']))).toEqual(other);
  });
});

describe('RouteTable.set / delete / deploymentOf', () => {
  test('set replaces the whole route: the next pick is from the new set', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A, B]);
    expect(table.pick('shop')?.port).toBe(5001);
    const D = t(6001);
    const E = t(6002);
    table.set('shop', 2, [D, E]);
    expect(table.deploymentOf('shop')).toBe(2);
    expect(picks(table, 'shop', 4)).toEqual([6001, 6002, 6001, 6002]);
  });

  test("set copies the targets: changing the caller's array later has no effect", () => {
    const table = new RouteTable();
    const targets = [A, B];
    table.set('shop', 1, targets);
    targets.push(C);
    targets[0] = t(9999);
    expect(picks(table, 'shop', 3)).toEqual([5001, 5002, 5001]);
  });

  test('apps are independent', () => {
    const table = new RouteTable();
    table.set('shop', 3, [A, B]);
    table.set('blog', 7, [C]);
    expect(table.pick('shop')?.port).toBe(5001);
    expect(table.pick('blog')?.port).toBe(5003);
    expect(table.pick('shop')?.port).toBe(5002);
    expect(table.deploymentOf('shop')).toBe(3);
    expect(table.deploymentOf('blog')).toBe(7);
  });

  test('delete removes the route', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A]);
    table.delete('shop');
    expect(table.pick('shop')).toBeUndefined();
    expect(table.deploymentOf('shop')).toBeUndefined();
    table.delete('never-set');
    expect(table.deploymentOf('never-set')).toBeUndefined();
  });
});

describe('RouteTable request counting', () => {
  test('begin/end count in-flight requests per target', () => {
    const table = new RouteTable();
    expect(table.activeRequests([A, B])).toBe(0);
    table.begin(A);
    table.begin(A);
    table.begin(B);
    expect(table.activeRequests([A])).toBe(2);
    expect(table.activeRequests([B])).toBe(1);
    expect(table.activeRequests([A, B])).toBe(3);
    expect(table.activeRequests([C])).toBe(0);
    expect(table.activeRequests([])).toBe(0);

    table.end(A);
    expect(table.activeRequests([A])).toBe(1);
    table.end(A);
    table.end(B);
    expect(table.activeRequests([A, B])).toBe(0);
  });

  test('end without begin does not go negative', () => {
    const table = new RouteTable();
    table.end(A);
    table.end(A);
    expect(table.activeRequests([A])).toBe(0);
    table.begin(A);
    expect(table.activeRequests([A])).toBe(1);
  });

  test('counts by host:port, so a different object for the same address counts together', () => {
    const table = new RouteTable();
    table.begin(A);
    const sameAddress: RouteTarget = { host: A.host, port: A.port, container: 'web-other' };
    expect(table.activeRequests([sameAddress])).toBe(1);
    table.end(sameAddress);
    expect(table.activeRequests([A])).toBe(0);
  });

  test('counting is independent of routes', () => {
    const table = new RouteTable();
    table.set('shop', 1, [A]);
    table.begin(A);
    table.set('shop', 2, [B]);
    expect(table.activeRequests([A])).toBe(1);
    table.delete('shop');
    expect(table.activeRequests([A])).toBe(1);
  });
});

describe('RouteTable: targets in and out of rotation', () => {
  const t = (port: number): RouteTarget => ({ host: '127.0.0.1', port, container: `web-${port}` });

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
