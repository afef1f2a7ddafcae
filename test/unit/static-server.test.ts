import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { contentType, isHashed, pickRoot, spaEnabled, staticHandler } from '../../src/build/static-server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(server: Server, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let site: Server;
let spa: Server;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'static-'));
  mkdirSync(path.join(dir, 'assets'));
  mkdirSync(path.join(dir, 'docs'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(path.join(dir, 'docs', 'index.html'), 'docs');
  writeFileSync(path.join(dir, 'assets', 'app.3f9a1b2c.js'), `console.log(${JSON.stringify('x'.repeat(5000))});`);
  writeFileSync(path.join(dir, 'style.css'), 'body{}');
  writeFileSync(path.join(dir, '404.html'), 'custom missing page');
  site = createServer(staticHandler(dir, false));
  spa = createServer(staticHandler(dir, true));
  await Promise.all([site, spa].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});

afterAll(async () => {
  await Promise.all([site, spa].map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

test('fingerprinted names are recognised; plain names are not', () => {
  expect(isHashed('assets/app.3f9a1b2c.js')).toBe(true);
  expect(isHashed('index-BX1q2abC.css')).toBe(true);
  expect(isHashed('main-component.js')).toBe(false);
  expect(isHashed('style.css')).toBe(false);
  expect(contentType('a.WOFF2')).toBe('font/woff2');
  expect(contentType('a.unknown')).toBe('application/octet-stream');
});

test('a hashed asset: its type, a year of immutable caching, gzip when asked', async () => {
  const plain = await get(site, '/assets/app.3f9a1b2c.js');
  expect(plain.status).toBe(200);
  expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(plain.headers['content-encoding']).toBeUndefined();
  const zipped = await get(site, '/assets/app.3f9a1b2c.js', { 'accept-encoding': 'gzip, br' });
  expect(zipped.headers['content-encoding']).toBe('gzip');
  expect(zipped.headers.vary).toBe('Accept-Encoding');
  expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
  expect(zipped.body.length).toBeLessThan(plain.body.length);
});

test('other files revalidate: no-cache, ETag, 304 on a match', async () => {
  const first = await get(site, '/style.css');
  expect(first.headers['cache-control']).toBe('no-cache');
  expect(first.headers['content-type']).toBe('text/css; charset=utf-8');
  const again = await get(site, '/style.css', { 'if-none-match': String(first.headers.etag) });
  expect(again.status).toBe(304);
});

test('index pages, a directory without its slash redirected, HEAD without a body', async () => {
  expect((await get(site, '/')).body.toString()).toContain('<title>home</title>');
  const redirect = await get(site, '/docs');
  expect([redirect.status, redirect.headers.location]).toEqual([301, '/docs/']);
  expect((await get(site, '/docs/')).body.toString()).toBe('docs');
  const head = await get(site, '/style.css', {}, 'HEAD');
  expect([head.status, head.body.length, head.headers['content-length']]).toEqual([200, 0, '6']);
  expect((await get(site, '/', {}, 'POST')).status).toBe(405);
});

test('missing files are 404 with 404.html; nothing outside the root is served', async () => {
  const missing = await get(site, '/nope.js');
  expect([missing.status, missing.body.toString()]).toEqual([404, 'custom missing page']);
  expect((await get(site, '/../../../../etc/passwd')).status).toBe(404);
  expect((await get(site, '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
  expect((await get(site, '/%E0%A4%A')).status).toBe(400);
});

test('the single-page-app fallback answers extension-less paths with index.html, still 404 for missing assets', async () => {
  const route = await get(spa, '/users/42');
  expect([route.status, route.body.toString()]).toEqual([200, '<!doctype html><title>home</title>']);
  expect((await get(spa, '/missing.png')).status).toBe(404);
  expect((await get(site, '/users/42')).status).toBe(404);
});

test('the root is the first with an index.html; spa from static.json or the variable', () => {
  const app = mkdtempSync(path.join(tmpdir(), 'static-app-'));
  try {
    mkdirSync(path.join(app, 'build'));
    mkdirSync(path.join(app, 'dist'));
    writeFileSync(path.join(app, 'build', 'index.html'), '');
    expect(pickRoot(app, ['dist', 'build', 'public'])).toBe(path.join(app, 'build'));
    expect(pickRoot(app, ['dist'])).toBeUndefined();
    expect(spaEnabled(app, {})).toBe(false);
    writeFileSync(path.join(app, 'static.json'), JSON.stringify({ routes: { '/**': 'index.html' } }));
    expect(spaEnabled(app, {})).toBe(true);
    expect(spaEnabled(app, { SLIPWAY_STATIC_SPA: '0' })).toBe(false);
    writeFileSync(path.join(app, 'static.json'), JSON.stringify({ spa: true }));
    expect(spaEnabled(app, {})).toBe(true);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});
