import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { waitForPort } from '../runtime/boot.js';
import type { RouteTarget } from '../store/store.js';
import { RouteTable, targetKey } from './table.js';

export interface RouterOptions {
  domain: string;
  /** Whether an app exists (so a host with no route answers 503 rather than 404). */
  appExists(app: string): boolean;
  /** The app that declared `host` as a custom domain, if any. */
  appForCustomDomain(host: string): string | undefined;
  upstreamTimeoutMs?: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']);
const NOTHING_REFUSED: ReadonlySet<string> = new Set();
const HOST_CACHE_LIMIT = 1024;
const SAFE_TO_RETRY = new Set(['GET', 'HEAD', 'OPTIONS']);
const MAX_ATTEMPTS = 4;

/** HTTP/1.1 reverse proxy routing by Host (`<app>.<domain>`) to the app's current web containers. */
export class Router {
  readonly table = new RouteTable();
  readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 });
  private readonly suffix: string;
  private readonly probing = new Set<string>();
  private readonly hostCache = new Map<string, string>();
  /** Upgraded (WebSocket) connections: the HTTP server no longer tracks them. */
  private readonly upgraded = new Set<net.Socket>();
  private closed = false;

  constructor(private readonly options: RouterOptions) {
    this.suffix = `.${options.domain.toLowerCase()}`;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as net.Socket, head));
    this.server.keepAliveTimeout = 65_000;
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const socket of this.upgraded) socket.destroy();
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves when the targets have no request in flight, or after `timeoutMs`. */
  async drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.table.activeRequests(targets) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Takes a target out of rotation at once and puts it back as soon as it accepts connections
   * again (a crashed container that Docker restarts, say). Stops watching once no route uses it.
   */
  takeOut(target: RouteTarget): void {
    const key = targetKey(target);
    this.table.markDown(key);
    if (this.probing.has(key)) return;
    this.probing.add(key);
    const stop = new AbortController();
    const watch = setInterval(() => {
      if (this.closed || !this.table.isRouted(key)) stop.abort();
    }, 200);
    void waitForPort(target.port, stop.signal, 100, target.host).finally(() => {
      clearInterval(watch);
      this.probing.delete(key);
      // Back in rotation when it answers; forgotten when no route uses it any more.
      this.table.markUp(key);
    });
  }

  /** The app a Host header names, when that app exists (a route is proof enough, and cheap). */
  private knownApp(hostHeader: string | undefined): string | undefined {
    const app = this.appFor(hostHeader);
    if (app === undefined) return undefined;
    return this.table.deploymentOf(app) !== undefined || this.options.appExists(app) ? app : undefined;
  }

  private appFor(hostHeader: string | undefined): string | undefined {
    const raw = hostHeader ?? '';
    // Host headers repeat from one request to the next: remember what `<app>.<domain>` names.
    const cached = this.hostCache.get(raw);
    if (cached !== undefined) return cached;
    const host = raw.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
    if (!host.endsWith(this.suffix)) return this.options.appForCustomDomain(host);
    const app = host.slice(0, -this.suffix.length);
    if (app.includes('.') || app === '') return undefined;
    if (this.hostCache.size >= HOST_CACHE_LIMIT) this.hostCache.clear();
    this.hostCache.set(raw, app);
    return app;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const app = this.knownApp(req.headers.host);
    if (app === undefined) {
      page(res, 404, 'No such app', `No app is served at ${escapeHtml(req.headers.host ?? '(no Host header)')}.`);
      return;
    }
    this.forward(app, req, res, NOTHING_REFUSED);
  }

  private forward(app: string, req: http.IncomingMessage, res: http.ServerResponse, refused: ReadonlySet<string>, attempt = 1): void {
    const target = this.table.pick(app, refused);
    if (!target) {
      page(res, 503, 'App not running', `${escapeHtml(app)} has no running web container; deploy it or scale web up.`);
      return;
    }
    this.table.begin(target);
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      this.table.end(target);
    };
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req),
      agent: this.agent,
      timeout: this.options.upstreamTimeoutMs ?? 60_000,
    });
    upstream.on('response', (upstreamRes) => {
      // The timeout guards the wait for an answer; a stream (SSE, long poll) may pause at will.
      upstream.setTimeout(0);
      res.writeHead(upstreamRes.statusCode ?? 502, stripHopByHop(upstreamRes.headers));
      upstreamRes.pipe(res);
      upstreamRes.on('end', finish);
      upstreamRes.on('error', () => {
        finish();
        res.destroy();
      });
    });
    upstream.on('timeout', () => upstream.destroy(new UpstreamTimeout()));
    let clientGone = false;
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      finish();
      if (clientGone) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error.code === 'ECONNREFUSED') this.takeOut(target);
      // Nothing reached the app yet (refused), or a pooled connection was closed by the app
      // just as it was reused: another attempt cannot do the request twice.
      const retryable = error.code === 'ECONNREFUSED' || (error.code === 'ECONNRESET' && upstream.reusedSocket);
      if (retryable && SAFE_TO_RETRY.has(req.method ?? '') && !hasBody(req) && attempt < MAX_ATTEMPTS) {
        const tried = error.code === 'ECONNREFUSED' ? new Set([...refused, targetKey(target)]) : refused;
        this.forward(app, req, res, tried, attempt + 1);
        return;
      }
      if (error instanceof UpstreamTimeout) {
        page(res, 504, 'Gateway timeout', `${escapeHtml(app)} did not answer in time.`);
      } else {
        page(res, 502, 'Bad gateway', `${escapeHtml(app)} could not be reached.`);
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        upstream.destroy();
      }
      finish();
    });
    if (hasBody(req)) req.pipe(upstream);
    else upstream.end();
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, refused = new Set<string>()): void {
    const app = this.knownApp(req.headers.host);
    if (app === undefined) {
      rawReply(socket, 404, 'Not Found');
      return;
    }
    const target = this.table.pick(app, refused);
    if (!target) {
      rawReply(socket, 503, 'Service Unavailable');
      return;
    }
    this.table.begin(target);
    this.upgraded.add(socket);
    let connected = false;
    const upstream = net.connect(target.port, target.host, () => {
      connected = true;
      const headers = { ...forwardedHeaders(req), connection: 'Upgrade', upgrade: req.headers.upgrade ?? '' };
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) {
        for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    let ended = false;
    const done = (): void => {
      if (!ended) {
        ended = true;
        this.table.end(target);
        this.upgraded.delete(socket);
      }
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && error.code === 'ECONNREFUSED' && !socket.destroyed) {
        // Nothing was sent: another container can take the upgrade.
        this.takeOut(target);
        ended = true;
        this.table.end(target);
        this.upgraded.delete(socket);
        refused.add(targetKey(target));
        this.upgrade(req, socket, head, refused);
        return;
      }
      if (!connected) rawReply(socket, 502, 'Bad Gateway');
      done();
    });
    upstream.once('close', () => {
      if (connected) done();
    });
    socket.on('error', done);
    socket.once('close', done);
  }
}

function rawReply(socket: net.Socket, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

class UpstreamTimeout extends Error {}

function hasBody(req: http.IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

function forwardedHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const incoming = req.headers;
  const headers = stripHopByHop(incoming);
  const client = req.socket.remoteAddress ?? '';
  const prior = incoming['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  headers['x-forwarded-proto'] = incoming['x-forwarded-proto'] ?? 'http';
  headers['x-forwarded-host'] = incoming.host ?? '';
  headers['x-request-id'] = incoming['x-request-id'] ?? randomUUID();
  return headers;
}

/** A copy without hop-by-hop headers, built key by key (deleting keys makes objects slow). */
function stripHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  // Headers the sender named in Connection are for this hop only (RFC 9110 §7.6.1).
  const connection = headers.connection;
  const named =
    typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close'
      ? new Set(connection.split(',').map((name) => name.trim().toLowerCase()))
      : undefined;
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

function page(res: http.ServerResponse, status: number, title: string, message: string): void {
  const body = `<!doctype html><title>${status} ${title}</title><h1>${title}</h1><p>${message}</p>\n`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
