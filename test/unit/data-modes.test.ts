import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureStorageDir } from '../../src/deploy/containers.js';
import { secureDataDir } from '../../src/server/data-modes.js';

let root: string;
let data: string;
const mode = (file: string): string => (statSync(path.join(data, file)).mode & 0o7777).toString(8);

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'slipway-modes-'));
  data = path.join(root, 'data');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

test('secureDataDir takes group and other bits away everywhere but in storage directories', () => {
  mkdirSync(path.join(data, 'repos/app.git/objects/ab'), { recursive: true, mode: 0o755 });
  mkdirSync(path.join(data, 'volumes/app/%2Fdata/sub'), { recursive: true, mode: 0o755 });
  const files: [string, number][] = [
    ['slipway.db', 0o644],
    ['admin-token', 0o644],
    ['repos/app.git/objects/ab/cdef', 0o444],
    ['repos/app.git/hooks-sample', 0o755],
    ['volumes/app/%2Fdata/sub/app-file', 0o644],
  ];
  for (const [file, m] of files) {
    writeFileSync(path.join(data, file), 'x');
    chmodSync(path.join(data, file), m);
  }
  chmodSync(data, 0o755);
  for (const d of ['repos', 'repos/app.git', 'volumes', 'volumes/app', 'volumes/app/%2Fdata']) chmodSync(path.join(data, d), 0o755);
  // A link out of the data directory is not followed.
  const outside = path.join(root, 'outside');
  writeFileSync(outside, 'x');
  chmodSync(outside, 0o644);
  symlinkSync(outside, path.join(data, 'link'));

  secureDataDir(data);

  expect(
    Object.fromEntries(
      [
        '.',
        'slipway.db',
        'admin-token',
        'repos',
        'repos/app.git/objects/ab',
        'repos/app.git/objects/ab/cdef',
        'repos/app.git/hooks-sample',
        'volumes',
        'volumes/app',
        'volumes/app/%2Fdata',
        'volumes/app/%2Fdata/sub',
        'volumes/app/%2Fdata/sub/app-file',
      ].map((f) => [f, mode(f)]),
    ),
  ).toEqual({
    '.': '700',
    'slipway.db': '600',
    'admin-token': '600',
    repos: '700',
    'repos/app.git/objects/ab': '700',
    'repos/app.git/objects/ab/cdef': '400',
    'repos/app.git/hooks-sample': '700',
    volumes: '700',
    'volumes/app': '700',
    'volumes/app/%2Fdata': '777',
    // The app's own files are left as the app made them.
    'volumes/app/%2Fdata/sub': '755',
    'volumes/app/%2Fdata/sub/app-file': '644',
  });
  expect((statSync(outside).mode & 0o777).toString(8)).toBe('644');
});

test('secureDataDir creates a missing data directory 0700', () => {
  secureDataDir(data);
  expect(mode('.')).toBe('700');
});

test('ensureStorageDir gives a storage directory 0777 whatever the umask, its parents 0700', () => {
  const previous = process.umask(0o077);
  try {
    ensureStorageDir(path.join(data, 'volumes/app/%2Fdata'));
  } finally {
    process.umask(previous);
  }
  expect([mode('volumes'), mode('volumes/app'), mode('volumes/app/%2Fdata')]).toEqual(['700', '700', '777']);
});
