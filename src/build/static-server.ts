/**
 * Slipway's static site server: the web process of a static site built on the stack. It runs on
 * the app's own Node with nothing but Node's modules, because it is copied alone into the image
 * (as /slipway/static.mjs); hence written here rather than taken from a package, which would
 * need installing into every site. It serves correct types, gzip, long-lived caching for
 * fingerprinted assets (revalidation for the rest), 404.html, and an optional single-page-app
 * fallback (static.json `{"spa": true}` or the SLIPWAY_STATIC_SPA=1 variable).
 *
 * Usage: node static.mjs [--check] ROOT...   (the first ROOT with an index.html is served)
 */
import { createReadStream, existsSync, readFileSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.zip': 'application/zip',
};

const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest\+json|wasm)|image\/svg\+xml)/;
/** Gzipped bodies are kept in memory up to this many bytes in all (files past 4 MB are streamed as they are). */
const GZIP_CACHE_BYTES = 64 * 1024 * 1024;
const GZIP_MAX_FILE = 4 * 1024 * 1024;

/** A fingerprinted name (`app.3f9a1b2c.js`, `index-BX1q2abC.css`): its content never changes. */
export function isHashed(file: string): boolean {
  const match = /[.-]([A-Za-z0-9_]{8,})\.[A-Za-z0-9]+$/.exec(path.basename(file));
  return match !== null && /\d/.test(match[1]!);
}

export function contentType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The first root that has an index.html, or undefined. */
export function pickRoot(base: string, roots: readonly string[]): string | undefined {
  return roots.map((r) => path.resolve(base, r)).find((r) => existsSync(path.join(r, 'index.html')));
}

/** static.json's `spa`, or Heroku's form `"routes": {"/**": "index.html"}`; the variable wins. */
export function spaEnabled(appDir: string, env: NodeJS.ProcessEnv): boolean {
  if (env.SLIPWAY_STATIC_SPA !== undefined) return /^(1|true|yes|on)$/i.test(env.SLIPWAY_STATIC_SPA);
  const file = path.join(appDir, 'static.json');
  if (!existsSync(file)) return false;
  try {
    const config = JSON.parse(readFileSync(file, 'utf8')) as { spa?: unknown; routes?: Record<string, unknown> };
    return config.spa === true || config.routes?.['/**'] === 'index.html';
  } catch {
    console.error('static.json is not valid JSON; serving without the single-page-app fallback');
    return false;
  }
}

export function staticHandler(root: string, spa: boolean): (req: IncomingMessage, res: ServerResponse) => void {
  const gzipped = new Map<string, Buffer>();
  let gzippedBytes = 0;

  const send = async (req: IncomingMessage, res: ServerResponse, file: string, stats: Stats, status: number): Promise<void> => {
    const type = contentType(file);
    const etag = `"${stats.size.toString(36)}-${Math.floor(stats.mtimeMs).toString(36)}"`;
    res.setHeader('Content-Type', type);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', status === 200 && isHashed(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (status === 200) {
      res.setHeader('ETag', etag);
      res.setHeader('Last-Modified', stats.mtime.toUTCString());
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304).end();
        return;
      }
    }
    const compressible = COMPRESSIBLE.test(type) && stats.size > 1024 && stats.size <= GZIP_MAX_FILE;
    if (compressible) res.setHeader('Vary', 'Accept-Encoding');
    if (compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const key = `${file}\0${etag}`;
      let body = gzipped.get(key);
      if (body === undefined) {
        body = gzipSync(await readFile(file));
        if (gzippedBytes + body.length <= GZIP_CACHE_BYTES) {
          gzipped.set(key, body);
          gzippedBytes += body.length;
        }
      }
      res.writeHead(status, { 'Content-Encoding': 'gzip', 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(status, { 'Content-Length': stats.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const find = (file: string): { file: string; stats: Stats } | undefined => {
    const stats = statSync(file, { throwIfNoEntry: false });
    if (stats?.isFile()) return { file, stats };
    if (stats?.isDirectory()) return find(path.join(file, 'index.html'));
    return undefined;
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Bad request\n');
      return;
    }
    const file = path.join(root, path.normalize(pathname));
    // Outside the root (or a NUL) is simply not found: nothing beyond the site is served.
    const inside = !pathname.includes('\0') && (file === root || file.startsWith(root + path.sep));
    let found = inside ? find(file) : undefined;
    if (found !== undefined && found.file !== file && !pathname.endsWith('/') && pathname !== '/') {
      // A directory's index: relative links in it need the trailing slash.
      res.writeHead(301, { Location: `${pathname}/` }).end();
      return;
    }
    let status = 200;
    if (found === undefined && spa && path.extname(pathname) === '') found = find(path.join(root, 'index.html'));
    if (found === undefined) {
      status = 404;
      found = find(path.join(root, '404.html'));
      if (found === undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' }).end('Not found\n');
        return;
      }
    }
    send(req, res, found.file, found.stats, status).catch(() => res.destroy());
  };
}

function main(argv: string[]): void {
  const check = argv[0] === '--check';
  const roots = check ? argv.slice(1) : argv;
  const appDir = process.cwd();
  const root = pickRoot(appDir, roots.length > 0 ? roots : ['.']);
  const names = (roots.length > 0 ? roots : ['.']).map((r) => (r === '.' ? 'the root' : `${r}/`)).join(', ');
  if (root === undefined) {
    console.error(`No index.html in ${names}: a static site needs one there after its build`);
    process.exit(1);
  }
  const spa = spaEnabled(appDir, process.env);
  const shown = path.relative(appDir, root) || '.';
  if (check) {
    console.log(`serving ${shown === '.' ? 'the root' : `${shown}/`}${spa ? ' with the single-page-app fallback' : ''}`);
    return;
  }
  const server = createServer(staticHandler(root, spa));
  server.keepAliveTimeout = 65_000;
  const port = Number(process.env.PORT ?? 8080);
  server.listen(port, () => console.log(`static site: ${shown} on port ${port}${spa ? ' (single-page-app fallback)' : ''}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// Run when executed (node static.mjs …), not when imported by the unit tests.
if (process.argv[1] !== undefined && /static(-server)?\.m?js$/.test(process.argv[1])) main(process.argv.slice(2));
