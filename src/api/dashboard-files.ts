import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Everything the page may load comes from this server: no CDN, font or beacon, even by mistake. */
const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface File {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  /** Vite's content-hashed assets never change under their name. */
  immutable: boolean;
}

/**
 * The dashboard's built files (`npm run build` puts them in dist/dashboard), read once into
 * memory with their gzip forms: they are a few hundred KB, and every answer is then a write.
 * Any path that is not a file gets index.html, where the page's own router takes over.
 */
export class DashboardFiles {
  private readonly files = new Map<string, File>();

  constructor(dir: string) {
    let names: string[] = [];
    try {
      names = readdirSync(dir, { recursive: true, encoding: 'utf8' });
    } catch {
      // not built: answered below with what to do
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if (!statSync(file).isFile()) continue;
      const body = readFileSync(file);
      const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
      const compressible = /^(text|application\/json|image\/svg)/.test(type) && body.length > 512;
      this.files.set(`/${name.split(path.sep).join('/')}`, {
        body,
        gzip: compressible ? gzipSync(body, { level: 9 }) : undefined,
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: name.startsWith(`assets${path.sep}`),
      });
    }
  }

  /** Answers GET and HEAD requests outside /api; returns false for other methods. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = new URL(req.url ?? '/', 'http://slipway').pathname;
    const file = this.files.get(pathname) ?? (pathname.startsWith('/assets/') ? undefined : this.files.get('/index.html'));
    if (!file) {
      const built = this.files.has('/index.html');
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        built
          ? `Slipway: there is no file ${pathname}.\n`
          : 'Slipway: the dashboard is not built; run "npm run build" and restart the server. The API is under /api.\n',
      );
      return true;
    }
    const headers: Record<string, string> = {
      'content-type': file.type,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: file.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (file.type.startsWith('text/html')) {
      headers['content-security-policy'] = CSP;
      headers['referrer-policy'] = 'no-referrer';
      headers['x-frame-options'] = 'DENY';
    }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = file.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? file.gzip! : file.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
