/** The ACME failures kept in the database (store/acme.ts): what a restarted server reads back. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AcmeFailure } from '../../../src/certs/acme-manager.js';
import { Store } from '../../../src/store/store.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-acme-failures-'));
  store = new Store(path.join(dir, 'slipway.db'));
  store.ensureApp('shop');
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const failure: AcmeFailure = { app: 'shop', failures: 2, lastError: 'forbidden by policy', lastErrorAt: 1000, nextAttemptAt: 241_000 };

test('a failure is read back after the database is opened again; the next one replaces it; clearing forgets it', () => {
  store.acme.recordFailure('www.shop.example', failure);
  store.close();
  store = new Store(path.join(dir, 'slipway.db'));
  expect(store.acme.failure('www.shop.example')).toEqual(failure);
  store.acme.recordFailure('www.shop.example', { ...failure, failures: 3, lastError: 'again', nextAttemptAt: 9000 });
  expect(store.acme.failure('www.shop.example')).toEqual({ ...failure, failures: 3, lastError: 'again', nextAttemptAt: 9000 });
  store.acme.clearFailure('www.shop.example');
  expect(store.acme.failure('www.shop.example')).toBeUndefined();
});

test("an app's failures go with it, and none is recorded for an app that is gone", () => {
  store.acme.recordFailure('www.shop.example', failure);
  store.deleteApp('shop');
  expect(store.acme.failure('www.shop.example')).toBeUndefined();
  store.acme.recordFailure('www.shop.example', failure);
  expect(store.acme.failure('www.shop.example')).toBeUndefined();
});
