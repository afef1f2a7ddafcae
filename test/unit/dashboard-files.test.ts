import { jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DashboardFiles } from '../../src/api/dashboard-files.js';

let dir: string;
let server: http.Server;
let base: string;
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-dash-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Slipway</title>');
  writeFileSync(path.join(dir, 'assets', 'index-AbC123.js'), SCRIPT);
  const files = new DashboardFiles(dir);
  server = http.createServer((req, res) => {
    if (!files.handle(req, res)) {
      res.writeHead(405);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function get(pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${pathname}`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

test('hashed assets are immutable for a year, gzipped when the browser takes it', async () => {
  const plain = await get('/assets/index-AbC123.js');
  expect([plain.status, plain.headers['cache-control'], plain.headers['content-type'], plain.body.toString()]).toEqual([
    200,
    'public, max-age=31536000, immutable',
    'text/javascript; charset=utf-8',
    SCRIPT,
  ]);
  const gzipped = await get('/assets/index-AbC123.js', { 'accept-encoding': 'gzip, br' });
  expect(gzipped.headers['content-encoding']).toBe('gzip');
  expect(gzipped.body.length).toBeLessThan(200);
  expect(gunzipSync(gzipped.body).toString()).toBe(SCRIPT);
});

test('every page path gets index.html, revalidated each time, with this server as the only source', async () => {
  for (const pathname of ['/', '/login', '/apps/shop/deployments/3']) {
    const page = await get(pathname);
    expect([pathname, page.status, page.headers['cache-control'], page.body.toString()]).toEqual([
      pathname,
      200,
      'no-cache',
      '<!doctype html><title>Slipway</title>',
    ]);
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'; connect-src 'self';/);
  }
  const again = await get('/', { 'if-none-match': (await get('/')).headers.etag! });
  expect([again.status, again.body.length]).toEqual([304, 0]);
});

test('a missing asset is a 404, not the page; a server without a build says how to build it', async () => {
  expect((await get('/assets/index-gone.js')).status).toBe(404);
  const unbuilt = new DashboardFiles(path.join(dir, 'nothing-here'));
  const res = { writeHead: jest.fn(), end: jest.fn() };
  expect(unbuilt.handle({ method: 'GET', url: '/', headers: {} } as never, res as never)).toBe(true);
  expect(res.writeHead).toHaveBeenCalledWith(404, { 'content-type': 'text/plain; charset=utf-8' });
  expect(res.end).toHaveBeenCalledWith('Slipway: the dashboard is not built; run "npm run build" and restart the server. The API is under /api.\n');
});
