import Database from 'better-sqlite3';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { storageProblem } from '../../src/server/storage.js';
import { ServerSuite, type TestServer } from '../support/server.js';

/**
 * The data directory on a disk of its own (a 64 MB tmpfs), filled up: pushes are refused with
 * a sentence that says what to do, and what was stored stays intact. A read-only disk is checked
 * on a mount of its own (a running server's open files keep its disk from being remounted).
 */

const NAME = 'disk-app';
const suite = new ServerSuite([NAME]);
let mount: string;
let server: TestServer;
let app: TestApp;

beforeAll(async () => {
  mount = mkdtempSync(path.join(os.tmpdir(), 'slipway-disk-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount]);
  ({ server } = await suite.start({ args: ['--data', path.join(mount, 'data')], env: { SLIPWAY_MIN_FREE_MB: '16' } }));
  app = suite.app(busyboxApp({ web: WEB }));
}, 60_000);

afterAll(async () => {
  await execa('mount', ['-o', 'remount,rw', mount], { reject: false });
  await suite.stop();
  await execa('umount', [mount], { reject: false });
  rmSync(mount, { recursive: true, force: true });
}, 60_000);

test('a full disk refuses pushes with a clear message; nothing stored is lost, and pushes work once there is space', async () => {
  const v1 = await app.commit('v1');
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  const data = path.join(mount, 'data');

  // Fill the disk until less than the 16 MB a push needs is left.
  const filler = path.join(mount, 'filler');
  writeFileSync(filler, Buffer.alloc(56 * 1024 * 1024));
  await app.commit('v2 on a full disk', { 'index.html': 'v2\n' });
  const full = await app.push(server.remote(NAME));
  expect(full.exitCode).not.toBe(0);
  expect(full.output).toContain(`The disk holding Slipway's data directory ${data} has`);
  expect(full.output).toContain('free some space (docker image prune, old logs) and push again');

  // What was stored reads back; the app still serves.
  const list = await server.api<{ id: number; status: string; commit: string }[]>('GET', `/api/apps/${NAME}/deployments`);
  expect(list.body.map((d) => [d.id, d.status, d.commit])).toEqual([[1, 'success', v1]]);
  expect(await getApp(server.routerPort, NAME, '/version.txt')).toEqual({ status: 200, body: `${v1}\n` });

  // Space again: the same push deploys.
  rmSync(filler);
  const retry = await app.push(server.remote(NAME));
  expect(retry.exitCode).toBe(0);
  const db = new Database(path.join(data, 'slipway.db'), { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  } finally {
    db.close();
  }
}, 120_000);

test('a read-only data directory is reported with what to do', async () => {
  const readOnly = mkdtempSync(path.join(os.tmpdir(), 'slipway-ro-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=8m,ro', 'tmpfs', readOnly]);
  try {
    expect(await storageProblem(readOnly, 1)).toBe(`Slipway cannot write to its data directory ${readOnly} (EROFS); make it writable and push again.`);
  } finally {
    await execa('umount', [readOnly]);
    rmSync(readOnly, { recursive: true, force: true });
  }
}, 60_000);
