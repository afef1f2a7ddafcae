import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BuildRefusedError } from '../../src/build/errors.js';
import { NpmRegistry } from '../../src/build/registry.js';

// A registry on 127.0.0.1 serving one packument and one tarball, as the npm registry does.
const TARBALL = Buffer.from('not really a tarball, but bytes with a known digest');
const INTEGRITY = `sha512-${createHash('sha512').update(TARBALL).digest('base64')}`;
let server: Server;
let url: string;
let requests: string[];
let up = true;
let dir: string;

beforeAll(async () => {
  requests = [];
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!up) return res.writeHead(503).end();
    if (req.url === '/tiny') {
      res.setHeader('content-type', 'application/json');
      return res.end(
        JSON.stringify({
          name: 'tiny',
          'dist-tags': { latest: '1.0.0' },
          versions: {
            '1.0.0': { version: '1.0.0', dist: { tarball: `${url}tiny/-/tiny-1.0.0.tgz`, integrity: INTEGRITY } },
            '1.0.1': { version: '1.0.1', dist: { tarball: `${url}tiny/-/tiny-1.0.0.tgz`, integrity: 'sha512-AAAA' } },
          },
        }),
      );
    }
    if (req.url === '/tiny/-/tiny-1.0.0.tgz') return res.end(TARBALL);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  dir = mkdtempSync(path.join(tmpdir(), 'registry-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

test('a packument is read once within its time to live, and kept on disk for when the registry is away', async () => {
  let now = 0;
  const registry = new NpmRegistry(url, dir, () => now);
  requests.length = 0;
  expect(Object.keys((await registry.packument('tiny')).versions)).toEqual(['1.0.0', '1.0.1']);
  await registry.packument('tiny');
  expect(requests).toEqual(['/tiny']);
  up = false;
  now += 10 * 60_000;
  try {
    expect(Object.keys((await registry.packument('tiny')).versions)).toEqual(['1.0.0', '1.0.1']);
    expect(requests).toEqual(['/tiny', '/tiny']);
    // Without a kept copy, an unreachable registry is one sentence saying what to check.
    const fresh = new NpmRegistry(url, path.join(dir, 'empty'));
    await expect(fresh.packument('tiny')).rejects.toThrow(BuildRefusedError);
    await expect(fresh.packument('tiny')).rejects.toThrow(
      /^Could not read tiny from the npm registry http:\/\/127\.0\.0\.1:\d+\/ \(HTTP 503\); .*or add a Dockerfile$/,
    );
  } finally {
    up = true;
  }
});

test('a download is checked against the integrity the registry lists; a mismatch leaves nothing behind', async () => {
  const registry = new NpmRegistry(url);
  const pkg = (await registry.packument('tiny')).versions;
  const good = path.join(dir, 'tiny-1.0.0.tgz');
  await registry.download(pkg['1.0.0']!, good);
  expect(readFileSync(good).equals(TARBALL)).toBe(true);
  const bad = path.join(dir, 'tiny-1.0.1.tgz');
  await expect(registry.download(pkg['1.0.1']!, bad)).rejects.toThrow(/its content does not match the integrity the registry lists/);
  expect(existsSync(bad)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
});
