import http, { STATUS_CODES } from 'node:http';
import net from 'node:net';
import { ConnectionCap } from '../net/connection-cap.js';
import { waitForPort } from '../runtime/boot.js';
import type { RouteTarget } from '../store/store.js';
import { ClientExchanges, type InFlight } from './client-exchanges.js';
import { ChunkedDecoder, MalformedResponse, parseResponseHead, parseSimpleRequest, type ResponseHead } from './http1.js';
import { RequestIds } from './request-id.js';
import { RouteTable, targetKey } from './table.js';
import { UpstreamPool, type UpstreamConnection, type UpstreamUser } from './upstream.js';

export interface RouterOptions {
  domain: string;
  /** Whether an app exists (so a host with no route answers 503 rather than 404). */
  appExists(app: string): boolean;
  /** The app that declared `host` as a custom domain, if any. */
  appForCustomDomain(host: string): string | undefined;
  /** Whether the app's visitors get the maintenance page instead of its containers. */
  inMaintenance?(app: string): boolean;
  upstreamTimeoutMs?: number;
  /** The whole request head must arrive within this time, else 408 (Node's headersTimeout); 60 s. */
  headersTimeoutMs?: number;
  /** Open connections one client address may hold (0: no cap); DEFAULT_MAX_CONNECTIONS_PER_CLIENT, none with tlsInFront. */
  maxConnectionsPerClient?: number;
  /**
   * A TLS proxy in front sets X-Forwarded-Proto (`tlsInFront`): pass its value on (https when it
   * sets none). Otherwise the router says `http`, whatever the client claims.
   */
  tlsInFront?: boolean;
  /** One line per connection closed after an error in the router's own code. */
  log?: (line: string) => void;
}

/** Request headers for this hop only (RFC 9110 §7.6.1), and those the router sets itself. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  // RFC 7239's Forwarded would let a client claim any address or proto: the X-Forwarded-* set
  // above is the one the router vouches for.
  'forwarded',
]);
const NOTHING_REFUSED: ReadonlySet<string> = new Set();
const HOST_CACHE_LIMIT = 1024;
const MAX_ATTEMPTS = 4;
/** Pipelined requests the fast path serves in one turn of the event loop before letting others run. */
const MAX_PIPELINED_PER_TURN = 32;
/** Response bytes a client may leave unread before the fast path stops reading its requests. */
const MAX_UNREAD_RESPONSE_BYTES = 256 * 1024;

/** What the router makes of a request once, however many targets it then tries. */
interface Incoming {
  /** The request head for the upstream, without its final Connection line and blank line. */
  head: string;
  hasBody: boolean;
  /** The client sent a Transfer-Encoding: the body goes on chunked. */
  chunkedBody: boolean;
  isHead: boolean;
  /** Nothing is lost by sending it again (GET/HEAD/OPTIONS without a body). */
  retryable: boolean;
  /** The client asked for an Upgrade: only a 101 from the app turns the connection into a tunnel. */
  upgrade: boolean;
}

/** Where a response goes: Node's ServerResponse, or the fast path's RawResponse. */
interface Sink {
  readonly headersSent: boolean;
  /** Bytes written and not yet handed to the kernel. */
  readonly writableLength: number;
  writeHead(status: number, headers: string[]): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(): unknown;
  once(event: 'drain', listener: () => void): unknown;
  /** For an upgrade request: the app answered 101; `bytes` are its response so far. */
  tunnel?(upstream: net.Socket, bytes: Buffer, target: RouteTarget): void;
}

const KEEP_ALIVE_MS = 65_000;

/** HTTP/1.1 reverse proxy routing by Host (`<app>.<domain>`) to the app's current web containers. */
export class Router {
  readonly table = new RouteTable();
  /** Accepts every connection; plain requests take the fast path, the rest go to `http`. */
  readonly server: net.Server;
  /** Node's HTTP server, for every request the fast path does not take (bodies, upgrades, …). */
  private readonly http: http.Server;
  private readonly fast = new Set<FastConnection>();
  private readonly pool = new UpstreamPool();
  private readonly suffix: string;
  private readonly probing = new Set<string>();
  private readonly hostCache = new Map<string, string>();
  /** Upgraded (WebSocket) connections: the HTTP server no longer tracks them. */
  private readonly upgraded = new Map<net.Socket, RouteTarget>();
  /**
   * Responses Node's server still owes on a connection. Node hands over the socket as soon as it
   * has parsed an upgrade request, even one pipelined behind a request still being answered: the
   * upgrade waits (`then`) so that answers keep their order.
   */
  private readonly owed = new WeakMap<net.Socket, { count: number; then: (() => void) | undefined }>();
  /**
   * Exchanges in flight on each client connection: ended at once if the client goes away, and
   * checked for the upstream timeout. Entries come and go with connections, not requests.
   */
  private readonly clients = new Map<net.Socket, ClientExchanges<Exchange>>();
  readonly timeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly ids = new RequestIds();
  private readonly cap: ConnectionCap;
  private readonly log: (line: string) => void;
  private closed = false;

  constructor(private readonly options: RouterOptions) {
    this.suffix = `.${options.domain.toLowerCase()}`;
    this.timeoutMs = options.upstreamTimeoutMs ?? 60_000;
    this.log = options.log ?? ((line) => console.error(line));
    // Behind a TLS proxy every connection comes from the proxy's address: the proxy limits clients.
    this.cap = new ConnectionCap(options.maxConnectionsPerClient ?? (options.tlsInFront ? 0 : undefined));
    const headersTimeout = options.headersTimeoutMs ?? 60_000;
    this.http = http.createServer(
      {
        noDelay: true,
        headersTimeout,
        // Uploads and long responses are bounded by the upstream timeout, not Node's 5 minutes.
        requestTimeout: 0,
        connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.guard(req.socket, () => this.handle(req, res)),
    );
    this.http.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.guard(socket, () => this.upgrade(req, socket, head)));
    this.http.keepAliveTimeout = KEEP_ALIVE_MS;
    // This server never listens (the net server below hands it connections), and Node starts the
    // check that enforces headersTimeout on 'listening': without it a client sending one header
    // line every few seconds held its connection for ever.
    this.http.emit('listening');
    this.server = net.createServer({ noDelay: true }, (socket) => this.guard(socket, () => this.accept(socket)));
    // One timer for every request's upstream timeout, rather than one per request.
    const period = Math.min(1000, Math.max(10, Math.floor(this.timeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // Accepting can fail later (out of file descriptors): the listener stays, the error is logged.
        this.server.on('error', (error) => this.log(`router: ${error.message}`));
        resolve();
      });
    });
  }

  /**
   * Runs one of the router's socket or request handlers. An error in the router's own code closes
   * that one connection and is logged; the process (with the API and git) stays up.
   */
  guard(socket: net.Socket | undefined, handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.crashed(socket, error);
    }
  }

  crashed(socket: net.Socket | undefined, error: unknown): void {
    const where = socket?.remoteAddress === undefined ? '' : ` from ${socket.remoteAddress}`;
    socket?.destroy();
    const detail = error instanceof Error ? `${error.message} (${error.stack?.split('\n')[1]?.trim() ?? 'no stack'})` : String(error);
    this.log(`router: closed a connection${where} after an internal error: ${detail}`);
  }

  private accept(socket: net.Socket): void {
    if (!this.cap.admit(socket)) return;
    const exchanges = new ClientExchanges<Exchange>();
    this.clients.set(socket, exchanges);
    socket.once('close', () => {
      this.clients.delete(socket);
      for (const exchange of exchanges.list()) this.guard(undefined, () => exchange.clientGone());
    });
    this.fast.add(new FastConnection(this, socket, exchanges));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const socket of this.upgraded.keys()) socket.destroy();
    for (const conn of this.fast) conn.socket.destroy();
    this.fast.clear();
    this.pool.destroy();
    this.http.closeAllConnections();
    this.http.close();
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
  knownApp(hostHeader: string | undefined): string | undefined {
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
    const exchanges = this.clients.get(req.socket);
    if (exchanges === undefined) return; // the client is already gone
    this.owe(req.socket, res);
    const host = hostOf(req.rawHeaders);
    if (host === false) {
      page(res as Sink, 400, 'Bad request', 'The request has more than one Host header; send exactly one.', ['connection', 'close']);
      return;
    }
    const app = this.knownApp(host);
    if (app === undefined) {
      page(res as Sink, 404, 'No such app', `No app is served at ${escapeHtml(host ?? '(no Host header)')}.`);
      return;
    }
    const incoming = this.incoming(req.method ?? 'GET', req.url ?? '/', req.rawHeaders, req.socket.remoteAddress, host, false);
    this.forward(app, res as Sink, incoming, exchanges, incoming.hasBody ? req : undefined, NOTHING_REFUSED, 1);
  }

  forward(app: string, res: Sink, incoming: Incoming, exchanges: ClientExchanges<Exchange>, body: http.IncomingMessage | undefined, refused: ReadonlySet<string>, attempt: number): void {
    if (this.options.inMaintenance?.(app)) {
      page(res, 503, 'Down for maintenance', `${escapeHtml(app)} is down for maintenance and will be back shortly.`, MAINTENANCE_HEADERS);
      return;
    }
    const target = this.table.pick(app, refused);
    if (!target) {
      page(res, 503, 'App not running', `${escapeHtml(app)} has no running web container; deploy it or scale web up.`);
      return;
    }
    const exchange = new Exchange(this, app, res, incoming, exchanges, body, target, refused, attempt);
    exchange.start(this.pool);
  }

  /** Builds the upstream request head: end-to-end headers as sent, then the X-Forwarded-* set. */
  incoming(method: string, url: string, raw: string[], remoteAddress: string | undefined, host: string | undefined, upgrade: boolean): Incoming {
    let named: Set<string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        // Headers the sender named in Connection are for this hop only.
        for (const token of raw[i + 1]!.split(',')) (named ??= new Set()).add(token.trim().toLowerCase());
      }
    }
    let head = `${method} ${url} HTTP/1.1\r\nHost: ${host ?? ''}\r\n`;
    let forwardedFor: string | undefined;
    let proto: string | undefined;
    let requestId: string | undefined;
    let upgradeValue: string | undefined;
    let hasBody = false;
    let chunkedBody = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const value = raw[i + 1]!;
      const lower = name.toLowerCase();
      if (NOT_FORWARDED.has(lower)) {
        if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        else if (lower === 'x-forwarded-proto') proto = proto === undefined ? value : `${proto}, ${value}`;
        else if (lower === 'x-request-id') requestId = requestId === undefined ? value : `${requestId}, ${value}`;
        else if (lower === 'upgrade') upgradeValue ??= value;
        continue;
      }
      if (named?.has(lower)) continue;
      if (lower === 'transfer-encoding') hasBody = chunkedBody = true;
      else if (lower === 'content-length' && value !== '0') hasBody = true;
      head += `${name}: ${value}\r\n`;
    }
    const client = remoteAddress ?? '';
    head += `X-Forwarded-For: ${forwardedFor === undefined ? client : `${forwardedFor}, ${client}`}\r\nX-Forwarded-Proto: ${this.options.tlsInFront ? (proto ?? 'https') : 'http'}\r\nX-Forwarded-Host: ${host ?? ''}\r\nX-Request-Id: ${requestId ?? this.ids.next()}\r\n`;
    if (upgrade) head += `Upgrade: ${upgradeValue ?? ''}\r\n`;
    return { head, hasBody, chunkedBody, isHead: method === 'HEAD', retryable: !hasBody && (method === 'GET' || method === 'HEAD' || method === 'OPTIONS'), upgrade };
  }

  /** Gives a connection to Node's HTTP server for good, with the bytes already read from it. */
  handOver(conn: FastConnection, data: Buffer): void {
    this.fast.delete(conn);
    if (this.closed) {
      conn.socket.destroy();
      return;
    }
    conn.socket.unshift(data);
    this.http.emit('connection', conn.socket);
  }

  forgetFast(conn: FastConnection): void {
    this.fast.delete(conn);
  }

  private sweep(): void {
    const now = Date.now();
    const late: Exchange[] = [];
    for (const exchanges of this.clients.values()) exchanges.late(now, late);
    for (const exchange of late) this.guard(undefined, () => exchange.timedOut());
  }

  /**
   * An upgrade request (a WebSocket, say) goes to the app like any other request. Only a 101 from
   * the app turns the connection into a tunnel; any other answer goes back as an HTTP response
   * and the connection goes on as HTTP, its next request parsed and routed like the first.
   */
  private upgrade(req: http.IncomingMessage, socket: net.Socket, rest: Buffer): void {
    // Node has let go of the socket: until the app answers, its errors are the router's.
    socket.on('error', ignore);
    const owed = this.owed.get(socket);
    if (owed !== undefined && owed.count > 0) owed.then = () => this.startUpgrade(req, socket, rest);
    else this.startUpgrade(req, socket, rest);
  }

  private startUpgrade(req: http.IncomingMessage, socket: net.Socket, rest: Buffer): void {
    const exchanges = this.clients.get(socket);
    const host = hostOf(req.rawHeaders);
    if (exchanges === undefined || this.closed) {
      socket.destroy();
      return;
    }
    if (host === false) {
      rawReply(socket, 400, 'Bad Request');
      return;
    }
    const incoming = this.incoming(req.method ?? 'GET', req.url ?? '/', req.rawHeaders, socket.remoteAddress, host, true);
    if (incoming.hasBody) {
      // Its body would have to wait, unsent, for the app's 101: nobody sends one; refuse it.
      rawReply(socket, 400, 'Bad Request');
      return;
    }
    const response = new RawResponse(
      socket,
      req.method === 'HEAD',
      () => this.resumeHttp(socket, rest, exchanges),
      (upstream, bytes, target) => this.tunnel(socket, rest, upstream, bytes, target),
    );
    const app = this.knownApp(host);
    if (app === undefined) {
      page(response, 404, 'No such app', `No app is served at ${escapeHtml(host ?? '(no Host header)')}.`);
      return;
    }
    this.forward(app, response, incoming, exchanges, undefined, NOTHING_REFUSED, 1);
  }

  private owe(socket: net.Socket, res: http.ServerResponse): void {
    let owed = this.owed.get(socket);
    if (owed === undefined) this.owed.set(socket, (owed = { count: 0, then: undefined }));
    const debt = owed;
    debt.count++;
    res.once('close', () => {
      debt.count--;
      const then = debt.then;
      if (debt.count > 0 || then === undefined) return;
      debt.then = undefined;
      this.guard(socket, then);
    });
  }

  /** The app did not answer an upgrade request with 101: the connection goes on as HTTP. */
  private resumeHttp(socket: net.Socket, rest: Buffer, exchanges: ClientExchanges<Exchange>): void {
    socket.off('error', ignore);
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    // Read again once the current call stack has unwound (a 'data' listener resumes the socket
    // on the next tick), so a run of refused upgrades does not nest.
    if (rest.length > 0) socket.unshift(rest);
    this.fast.add(new FastConnection(this, socket, exchanges));
  }

  /** The app answered 101: bytes go through both ways until either side closes. */
  private tunnel(client: net.Socket, rest: Buffer, upstream: net.Socket, bytes: Buffer, target: RouteTarget): void {
    client.off('error', ignore);
    this.upgraded.set(client, target);
    let ended = false;
    const done = (): void => {
      if (!ended) {
        ended = true;
        this.table.end(target);
        this.upgraded.delete(client);
      }
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', done);
    upstream.once('close', done);
    client.on('error', done);
    client.once('close', done);
    if (this.closed) {
      done();
      return;
    }
    client.write(bytes);
    if (rest.length > 0) upstream.write(rest);
    upstream.pipe(client);
    client.pipe(upstream);
  }
}

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

/**
 * One request relayed to one target over a pooled connection: writes the head (and streams the
 * body), parses the response head, and relays the body with backpressure both ways.
 */
class Exchange implements UpstreamUser, InFlight {
  private deadline = 0;
  private conn: UpstreamConnection | undefined;
  private buffered: Buffer | undefined;
  private response: ResponseHead | undefined;
  private body = Body.None;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private finished = false;
  private gotBytes = false;
  private requestSent = false;
  private paused = false;
  private pool: UpstreamPool | undefined;
  private onChunk: ((data: Buffer) => void) | undefined;

  constructor(
    private readonly router: Router,
    private readonly app: string,
    private readonly res: Sink,
    private readonly incoming: Incoming,
    private readonly exchanges: ClientExchanges<Exchange>,
    /** The client's request, when it has a body to stream. */
    private readonly req: http.IncomingMessage | undefined,
    private readonly target: RouteTarget,
    private readonly refused: ReadonlySet<string>,
    private readonly attempt: number,
  ) {}

  start(pool: UpstreamPool): void {
    this.pool = pool;
    this.router.table.begin(this.target);
    this.exchanges.add(this);
    this.deadline = Date.now() + this.router.timeoutMs;
    // An upgrade may become a tunnel: it gets a connection of its own, never a pooled one.
    const key = targetKey(this.target);
    const conn = (this.conn = this.incoming.upgrade ? pool.connect(this.target, key, this) : pool.acquire(this.target, key, this));
    const head = `${this.incoming.head}Connection: ${this.incoming.upgrade ? 'Upgrade' : 'keep-alive'}\r\n\r\n`;
    conn.socket.write(head, 'latin1');
    if (this.req !== undefined) this.streamBody(this.req, conn);
    else this.requestSent = true;
  }

  private streamBody(req: http.IncomingMessage, conn: UpstreamConnection): void {
    const chunked = this.incoming.chunkedBody;
    req.on('data', (data: Buffer) => {
      if (this.finished || conn.socket.destroyed) return;
      try {
        this.sendBody(data, req, conn, chunked);
      } catch (error) {
        this.onCrash(error);
      }
    });
    req.on('end', () => {
      if (this.finished || conn.socket.destroyed) return;
      if (chunked) conn.socket.write('0\r\n\r\n', 'latin1');
      this.requestSent = true;
    });
  }

  private sendBody(data: Buffer, req: http.IncomingMessage, conn: UpstreamConnection, chunked: boolean): void {
    // A slow upload is activity: the upstream timeout counts from the last byte sent.
    this.deadline = Date.now() + this.router.timeoutMs;
    let flushed: boolean;
    if (chunked) {
      conn.socket.cork();
      conn.socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
      conn.socket.write(data);
      flushed = conn.socket.write('\r\n', 'latin1');
      conn.socket.uncork();
    } else {
      flushed = conn.socket.write(data);
    }
    if (!flushed) req.pause();
  }

  /** The router's own code failed while handling this exchange: close the client's connection. */
  onCrash(error: unknown): void {
    if (!this.finished) {
      this.finished = true;
      this.exchanges.delete(this);
      this.router.table.end(this.target);
    }
    const conn = this.conn;
    this.conn = undefined;
    conn?.destroy();
    this.res.destroy();
    this.router.crashed(undefined, error);
  }

  onDrain(): void {
    if (this.req !== undefined && !this.requestSent) this.req.resume();
  }

  onData(data: Buffer): void {
    if (this.finished) return;
    this.gotBytes = true;
    if (this.response === undefined) {
      this.readHead(data);
      return;
    }
    this.readBody(data, 0);
  }

  private readHead(data: Buffer): void {
    let buf = this.buffered === undefined ? data : Buffer.concat([this.buffered, data]);
    let offset = 0;
    for (;;) {
      let head: ResponseHead | null;
      const start = offset;
      try {
        head = parseResponseHead(buf, offset);
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (head === null) {
        // A copy: `data` lies in the connection's read buffer, which the next read fills again.
        this.buffered = Buffer.from(buf.subarray(offset));
        return;
      }
      offset = head.end;
      // Interim responses (100 Continue, 103 Early Hints) are this hop's business.
      if (head.status < 200) {
        if (head.status === 101) {
          if (this.incoming.upgrade && this.res.tunnel !== undefined) this.becomeTunnel(Buffer.from(buf.subarray(start)));
          else this.fail(new MalformedResponse('101 without an upgrade'));
          return;
        }
        continue;
      }
      this.buffered = undefined;
      this.response = head;
      break;
    }
    const head = this.response;
    const status = head.status;
    if (this.incoming.isHead || status === 204 || status === 304) this.body = Body.None;
    else if (head.chunked) this.body = Body.Chunked;
    else if (head.contentLength >= 0) this.body = Body.Length;
    else this.body = Body.UntilClose;
    try {
      this.res.writeHead(status, head.headers);
    } catch (error) {
      // Header values Node will not send (control characters): a bad gateway, not a crash.
      this.fail(error as Error);
      return;
    }
    if (this.body === Body.Length) this.remaining = head.contentLength;
    else if (this.body === Body.Chunked) {
      this.decoder = new ChunkedDecoder();
      this.onChunk = (data) => this.relay(data);
    }
    if (this.body === Body.None || (this.body === Body.Length && this.remaining === 0)) {
      this.complete(offset < buf.length);
      return;
    }
    if (offset < buf.length) this.readBody(buf, offset);
  }

  /** The app switched protocols: the connection leaves the pool and HTTP, and becomes a tunnel. */
  private becomeTunnel(bytes: Buffer): void {
    this.finished = true;
    // The target stays busy (table.end) until the tunnel closes.
    this.exchanges.delete(this);
    const conn = this.conn!;
    this.conn = undefined;
    this.res.tunnel!(conn.detach(), bytes, this.target);
  }

  private readBody(data: Buffer, offset: number): void {
    switch (this.body) {
      case Body.Length: {
        const available = data.length - offset;
        if (available <= this.remaining) {
          this.remaining -= available;
          const chunk = offset === 0 ? data : data.subarray(offset);
          if (this.remaining === 0) this.complete(false, chunk);
          else this.relay(chunk);
        } else {
          // More bytes than the response announced: relay what belongs to it, drop the connection.
          const last = data.subarray(offset, offset + this.remaining);
          this.remaining = 0;
          this.complete(true, last);
        }
        return;
      }
      case Body.Chunked: {
        let end: number;
        try {
          end = this.decoder!.feed(data, offset, this.onChunk!);
        } catch (error) {
          this.fail(error as Error);
          return;
        }
        if (end >= 0) this.complete(end < data.length);
        return;
      }
      case Body.UntilClose:
        this.relay(offset === 0 ? data : data.subarray(offset));
        return;
      case Body.None:
        return;
    }
  }

  private relay(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const flushed = this.res.write(chunk);
    // Queued rather than written: the chunk still lies in the connection's read buffer.
    if (this.res.writableLength > 0) this.conn?.hold();
    if (!flushed && !this.paused) {
      this.paused = true;
      this.conn?.socket.pause();
      this.res.once('drain', () => {
        this.paused = false;
        if (!this.finished) this.conn?.socket.resume();
      });
    }
  }

  onEnd(): void {
    if (this.finished) return;
    if (this.response !== undefined && this.body === Body.UntilClose) {
      this.complete(true);
      return;
    }
    this.fail(undefined);
  }

  onClose(error: NodeJS.ErrnoException | undefined): void {
    this.conn = undefined;
    if (this.finished) return;
    if (this.response !== undefined && this.body === Body.UntilClose && error === undefined) {
      this.complete(true);
      return;
    }
    this.fail(error);
  }

  isLate(now: number): boolean {
    return !this.finished && this.response === undefined && this.deadline <= now;
  }

  timedOut(): void {
    this.fail(new UpstreamTimeout());
  }

  /** The client went away: stop, and do not send the request anywhere else. */
  clientGone(): void {
    if (this.finished) return;
    this.settle();
    this.conn?.destroy();
  }

  /** The response ended; `dirty` when the connection must not carry another request. */
  private complete(dirty: boolean, last?: Buffer): void {
    if (this.finished) return;
    this.settle();
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined) {
      if (this.paused) conn.socket.resume();
      if (dirty || !this.response!.keepAlive || !this.requestSent || this.incoming.upgrade) conn.destroy();
      else this.pool!.release(conn);
    }
    // Last, as it may start the client's next request at once (fast path).
    this.res.end(last);
    if (last !== undefined && this.res.writableLength > 0) conn?.hold();
  }

  private settle(): void {
    this.finished = true;
    this.exchanges.delete(this);
    this.router.table.end(this.target);
  }

  private fail(error: (Error & { code?: string }) | undefined): void {
    if (this.finished) return;
    this.settle();
    const conn = this.conn;
    this.conn = undefined;
    const reused = conn?.reused ?? false;
    conn?.destroy();
    const res = this.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const code = error?.code;
    if (code === 'ECONNREFUSED') this.router.takeOut(this.target);
    // Nothing reached the app (refused), or a pooled connection was closed by the app just as
    // it was reused: another attempt cannot do the request twice.
    const again = code === 'ECONNREFUSED' || (reused && !this.gotBytes && (code === undefined || code === 'ECONNRESET' || code === 'EPIPE'));
    if (again && this.incoming.retryable && this.attempt < MAX_ATTEMPTS) {
      const tried = code === 'ECONNREFUSED' ? new Set([...this.refused, targetKey(this.target)]) : this.refused;
      this.router.forward(this.app, res, this.incoming, this.exchanges, this.req, tried, this.attempt + 1);
      return;
    }
    if (error instanceof UpstreamTimeout) page(res, 504, 'Gateway timeout', `${escapeHtml(this.app)} did not answer in time.`);
    else page(res, 502, 'Bad gateway', `${escapeHtml(this.app)} could not be reached.`);
  }
}

/**
 * The Host header, without building `req.headers` (Node makes that object lazily); false when
 * there are several (RFC 9112 §3.2: a server answers 400, rather than route by one of them).
 */
function hostOf(raw: string[]): string | undefined | false {
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (host !== undefined) return false;
      host = raw[i + 1];
    }
  }
  return host;
}

function rawReply(socket: net.Socket, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

class UpstreamTimeout extends Error {}

/** Clients may come back in a minute; nothing may keep the page as the app's answer. */
const MAINTENANCE_HEADERS = ['retry-after', '60', 'cache-control', 'no-store'];

function page(res: Sink, status: number, title: string, message: string, headers: readonly string[] = []): void {
  const body = `<!doctype html><title>${status} ${title}</title><h1>${title}</h1><p>${message}</p>\n`;
  res.writeHead(status, ['content-type', 'text/html; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), ...headers]);
  res.end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A client connection while its requests are plain enough for the fast path (parseSimpleRequest):
 * the router parses them and writes the responses itself. The first request that is not plain
 * (a body, an upgrade, a partial head…) hands the connection to Node's HTTP server for good.
 */
class FastConnection {
  /** Bytes not served yet: pipelined requests behind the one in progress. */
  private pending: Buffer | undefined;
  /** A request is waiting for its response. */
  private busy = false;
  /** Inside the serving loop (a response that ends at once calls back into it). */
  private serving = false;
  /** Waiting for the client to read its responses, or for the next turn of the event loop. */
  private waiting = false;
  private paused = false;
  private handedOver = false;
  private readonly onData = (data: Buffer): void => this.router.guard(this.socket, () => this.read(data));
  private readonly onClose = (): void => this.router.forgetFast(this);
  private readonly onTimeout = (): void => {
    if (!this.busy) this.socket.destroy();
  };
  private readonly next = (): void => {
    this.waiting = false;
    this.router.guard(this.socket, () => this.serveWaiting());
  };

  constructor(
    private readonly router: Router,
    readonly socket: net.Socket,
    private readonly exchanges: ClientExchanges<Exchange>,
  ) {
    socket.on('data', this.onData);
    socket.on('error', ignore); // 'close' follows, and ends what is in flight
    socket.once('close', this.onClose);
    socket.setTimeout(KEEP_ALIVE_MS, this.onTimeout);
  }

  private read(data: Buffer): void {
    this.pending = this.pending === undefined ? data : Buffer.concat([this.pending, data]);
    this.serveWaiting();
  }

  /**
   * Serves the requests that arrived, one after another. A loop, not a chain of calls: a response
   * that ends at once (a page) must not start the next request from inside itself, or 2 600
   * pipelined requests overflow the stack. At most MAX_PIPELINED_PER_TURN per turn of the event
   * loop, and none while the client leaves MAX_UNREAD_RESPONSE_BYTES of responses unread.
   */
  private serveWaiting(): void {
    if (this.serving || this.waiting) return;
    this.serving = true;
    let served = 0;
    try {
      while (!this.busy && !this.handedOver && this.pending !== undefined && !this.socket.destroyed) {
        if (this.socket.writableLength > MAX_UNREAD_RESPONSE_BYTES) {
          this.waiting = true;
          this.socket.once('drain', this.next);
          break;
        }
        if (served === MAX_PIPELINED_PER_TURN) {
          this.waiting = true;
          setImmediate(this.next);
          break;
        }
        const data = this.pending;
        this.pending = undefined;
        served++;
        this.serve(data);
      }
    } finally {
      this.serving = false;
    }
    if (this.handedOver || this.socket.destroyed) return;
    // Read no more while waiting, or while a request is in progress with plenty queued behind it.
    const stop = this.waiting || (this.pending?.length ?? 0) > 64 * 1024;
    if (stop && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!stop && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private serve(data: Buffer): void {
    const request = parseSimpleRequest(data);
    if (request === null) {
      this.handedOver = true;
      this.socket.off('data', this.onData);
      this.socket.off('error', ignore);
      this.socket.off('close', this.onClose);
      this.socket.setTimeout(0, this.onTimeout);
      this.socket.off('timeout', this.onTimeout);
      this.router.handOver(this, data);
      // Resumed only now that Node's server listens, or what was read would go nowhere.
      if (this.paused) this.socket.resume();
      return;
    }
    this.busy = true;
    if (request.end < data.length) this.pending = data.subarray(request.end);
    const response = new RawResponse(this.socket, request.method === 'HEAD', this.responded);
    const app = this.router.knownApp(request.host);
    if (app === undefined) {
      page(response, 404, 'No such app', `No app is served at ${escapeHtml(request.host)}.`);
      return;
    }
    const incoming = this.router.incoming(request.method, request.url, request.rawHeaders, this.socket.remoteAddress, request.host, false);
    this.router.forward(app, response, incoming, this.exchanges, undefined, NOTHING_REFUSED, 1);
  }

  /** The response went out whole: on to the next request, if one is waiting. */
  private readonly responded = (): void => {
    this.busy = false;
    this.serveWaiting();
  };
}

/**
 * The fast path's response (and the answer to an upgrade request): the status line and headers
 * Node's ServerResponse would write. The headers are the router's own or came through
 * parseResponseHead, which let only valid ones by.
 */
class RawResponse implements Sink {
  headersSent = false;
  private head = '';
  private chunked = false;
  private done = false;

  constructor(
    private readonly socket: net.Socket,
    private noBody: boolean,
    /** Called once the whole response is written. */
    private readonly onEnd: () => void,
    readonly tunnel?: (upstream: net.Socket, bytes: Buffer, target: RouteTarget) => void,
  ) {}

  writeHead(status: number, headers: string[]): this {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let length = false;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      else if (name.length === 4 && name.toLowerCase() === 'date') date = true;
      head += `${name}: ${value}\r\n`;
    }
    if (status === 204 || status === 304 || status < 200) this.noBody = true;
    if (!date) head += `Date: ${utcDate()}\r\n`;
    if (!length && !this.noBody) {
      head += 'Transfer-Encoding: chunked\r\n';
      this.chunked = true;
    }
    this.head = `${head}Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_MS / 1000}\r\n\r\n`;
    this.headersSent = true;
    return this;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  write(chunk: Buffer): boolean {
    if (this.done) return true;
    const socket = this.socket;
    socket.cork();
    const flushed = this.send(socket, chunk);
    socket.uncork();
    return flushed;
  }

  end(chunk?: Buffer | string): this {
    if (this.done) return this;
    const socket = this.socket;
    socket.cork();
    this.send(socket, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
    socket.uncork();
    this.done = true;
    this.onEnd();
    return this;
  }

  destroy(): this {
    this.done = true;
    this.socket.destroy();
    return this;
  }

  once(_event: 'drain', listener: () => void): this {
    this.socket.once('drain', listener);
    return this;
  }

  private send(socket: net.Socket, chunk: Buffer | undefined): boolean {
    let flushed = true;
    if (this.head !== '') {
      flushed = socket.write(this.head, 'latin1');
      this.head = '';
    }
    if (chunk === undefined || chunk.length === 0 || this.noBody) return flushed;
    if (!this.chunked) return socket.write(chunk);
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }
}

let dateCache: string | undefined;

/** The Date header value, computed at most once a second (as Node does). */
function utcDate(): string {
  if (dateCache === undefined) {
    const now = new Date();
    dateCache = now.toUTCString();
    setTimeout(() => (dateCache = undefined), 1000 - now.getMilliseconds()).unref();
  }
  return dateCache;
}

function ignore(): void {}
