import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRoutingSnapshot, servingTargets } from '../../src/store/routing.js';
import { Store } from '../../src/store/store.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-snapshot-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const target = (n: number): { host: string; port: number; container: string } => ({ host: '127.0.0.1', port: 4000 + n, container: `app-1-web-${n}` });

test('a database that does not exist yet, or that the server is still creating, routes nothing', () => {
  const file = path.join(dir, 'slipway.db');
  expect(readRoutingSnapshot(file).routes).toEqual([]);
  new Database(file).close();
  expect(readRoutingSnapshot(file)).toEqual({ directory: { apps: [], domains: [], maintenance: [] }, routes: [] });
});

test('the routes as served: containers out of the rotation are left out, and kept across a reopen', () => {
  const file = path.join(dir, 'slipway.db');
  const store = new Store(file);
  store.ensureApp('shop');
  store.recordSwitch('shop', 1, new Map([['web', 2]]), [target(1), target(2)]);
  store.setOutOfRotation('shop', ['app-1-web-2']);
  store.close();

  expect(readRoutingSnapshot(file).routes).toEqual([{ app: 'shop', deployment: 1, targets: [target(1)] }]);
  const reopened = new Store(file);
  expect(reopened.listRoutes()[0]?.targets).toEqual([target(1), target(2)]);
  expect(reopened.listServingRoutes()[0]?.targets).toEqual([target(1)]);
  expect(reopened.listOutOfRotation()).toEqual([{ app: 'shop', containers: ['app-1-web-2'] }]);
  // A deploy's new targets are served whole: the names out of the rotation were the old containers'.
  reopened.recordSwitch('shop', 2, new Map([['web', 1]]), [{ ...target(3), container: 'app-2-web-1' }]);
  expect(reopened.listServingRoutes()[0]?.targets).toEqual([{ ...target(3), container: 'app-2-web-1' }]);
  reopened.close();
});

test('never none: with every target out, all are served', () => {
  expect(servingTargets([target(1), target(2)], ['app-1-web-1', 'app-1-web-2'])).toEqual([target(1), target(2)]);
  expect(servingTargets([target(1), target(2)], ['app-1-web-2'])).toEqual([target(1)]);
});
