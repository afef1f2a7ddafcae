import http from 'node:http';
import net from 'node:net';
import type tls from 'node:tls';
import { ConnectionCap } from '../net/connection-cap.js';
import { waitForPort } from '../runtime/boot.js';
import type { RouteTarget } from '../store/store.js';
import { answerChallenge, challengeToken } from './challenges.js';
import { MeteredSink, type AccessRecorder } from './access.js';
import { ClientExchanges } from './client-exchanges.js';
import { Exchange, type ExchangeHost } from './exchange.js';
import { FastConnection, type FastPathHost } from './fast-path.js';
import type { SimpleRequest } from './http1.js';
import { badGatewayPage, httpsRedirect, maintenancePage, notFoundPage, notRunningPage, rawReply, twoHostsPage } from './pages.js';
import { hostOf, requestHead, type ClientRequestHead, type HeadOptions, type Incoming } from './request-head.js';
import { RequestIds } from './request-id.js';
import { KEEP_ALIVE_MS, RawResponse, type Sink } from './response.js';
import { RouteTable, targetKey } from './table.js';
import { openTunnel } from './tunnel.js';
import { Http2Front } from './h2.js';
import type http2 from 'node:http2';
import { UpstreamPool } from './upstream.js';

export interface RouterOptions {
  domain: string;
  /** Whether an app exists (so a host with no route answers 503 rather than 404). */
  appExists(app: string): boolean;
  /** The app that declared `host` as a custom domain, if any. */
  appForCustomDomain(host: string): string | undefined;
  /** Whether the app's visitors get the maintenance page instead of its containers. */
  inMaintenance?(app: string): boolean;
  /** Whether the app's HTTP requests are redirected to HTTPS (setting forceHttps). */
  forceHttps?(app: string): boolean;
  /** Whether the app's HTTPS answers carry Strict-Transport-Security (setting hsts). */
  hsts?(app: string): boolean;
  /** The HTTPS port, for forceHttps redirects (none: no redirect). */
  httpsPort?: number;
  /** The key authorization of an ACME HTTP-01 challenge token this router answers, if known. */
  challenge?(token: string): string | undefined;
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
  /** Where each routed request's record goes (access logs, metrics); none: nothing is measured. */
  access?: AccessRecorder;
}

const NOTHING_REFUSED: ReadonlySet<string> = new Set();
/** A year, subdomains not included: an app's other hosts may not all have certificates. */
const HSTS: readonly string[] = ['strict-transport-security', 'max-age=31536000'];

/** The client came over the router's TLS port. */
function isSecure(socket: net.Socket): boolean {
  return (socket as tls.TLSSocket).encrypted === true;
}
/** A retiring router closes a connection that has had no request for this long. */
const RETIRE_IDLE_MS = 1000;

/** The routing table as requests use it: reading routes, counting requests in flight. */
export type RouteReader = Pick<RouteTable, 'apps' | 'entries' | 'deploymentOf' | 'isDown' | 'isRouted' | 'activeRequests' | 'begin' | 'end'>;
const HOST_CACHE_LIMIT = 1024;

/** A drain in progress: resolved when its targets have nothing in flight, or at its deadline. */
interface Drain {
  keys: ReadonlySet<string>;
  targets: readonly RouteTarget[];
  done(): void;
}

/**
 * HTTP/1.1 reverse proxy routing by Host (`<app>.<domain>`) to the app's current web containers.
 * It listens, maps Host to app, answers for apps in maintenance, drains and takes out targets;
 * one request's trip to a container is an Exchange (exchange.ts), plain requests take the fast
 * path (fast-path.ts), upgraded connections become tunnels (tunnel.ts).
 */
export class Router {
  /** Changed only through switchTo and keepApps: this router is its one writer. */
  private readonly routes = new RouteTable();
  /** Accepts every connection; plain requests take the fast path, the rest go to `http`. */
  readonly server: net.Server;
  /** Node's HTTP server, for every request the fast path does not take (bodies, upgrades, …). */
  private readonly http: http.Server;
  private readonly fast = new Set<FastConnection>();
  private readonly pool = new UpstreamPool();
  private readonly suffix: string;
  private readonly probing = new Set<string>();
  private readonly hostCache = new Map<string, string>();
  /** Open tunnels (the HTTP server no longer tracks them), by client socket: their target, and how to close them. */
  private readonly tunnels = new Map<net.Socket, { target: RouteTarget; close: () => void }>();
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
  private readonly drains = new Set<Drain>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly cap: ConnectionCap;
  private readonly log: (line: string) => void;
  private readonly heads: HeadOptions;
  private readonly exchangeHost: ExchangeHost;
  private readonly fastHost: FastPathHost;
  private closed = false;
  private retiring = false;
  /** Made at the first HTTP/2 connection. */
  private http2: Http2Front | undefined;

  constructor(private readonly options: RouterOptions) {
    this.suffix = `.${options.domain.toLowerCase()}`;
    const timeoutMs = options.upstreamTimeoutMs ?? 60_000;
    this.log = options.log ?? ((line) => console.error(line));
    // Behind a TLS proxy every connection comes from the proxy's address: the proxy limits clients.
    this.cap = new ConnectionCap(options.maxConnectionsPerClient ?? (options.tlsInFront ? 0 : undefined));
    const ids = new RequestIds();
    this.heads = { tlsInFront: options.tlsInFront ?? false, requestId: () => ids.next() };
    this.exchangeHost = {
      timeoutMs,
      begin: (target) => this.routes.begin(target),
      end: (target) => this.ended(target),
      refused: (target) => this.takeOut(target),
      retry: (app, res, incoming, exchanges, body, refused, attempt) => this.forward(app, res, incoming, exchanges, body, refused, attempt),
      crashed: (error) => this.crashed(undefined, error),
    };
    this.fastHost = {
      guard: (socket, handler) => this.guard(socket, handler),
      route: (request, res, socket, exchanges) => this.routeSimple(request, res, socket, exchanges),
      handOver: (conn, data) => this.handOver(conn, data),
      forget: (conn) => this.fast.delete(conn),
    };
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
    const period = Math.min(1000, Math.max(10, Math.floor(timeoutMs / 4)));
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

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const tunnel of [...this.tunnels.values()]) tunnel.close();
    for (const conn of this.fast) conn.socket.destroy();
    this.fast.clear();
    this.pool.destroy();
    this.http2?.close();
    this.http.closeAllConnections();
    this.http.close();
    for (const drain of [...this.drains]) drain.done();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Points the app at new targets: from the next request on, every request goes to them. */
  switchTo(app: string, deployment: number, targets: readonly RouteTarget[]): void {
    this.routes.set(app, deployment, targets);
  }

  /** Drops the routes of apps that no longer exist. */
  keepApps(exists: (app: string) => boolean): void {
    for (const app of this.routes.apps()) if (!exists(app)) this.routes.delete(app);
  }

  /** The routing table without its writes: those go through switchTo and keepApps. */
  get table(): RouteReader {
    return this.routes;
  }

  /**
   * Hands the port over (another process listens on it too) without dropping a request: stops
   * accepting, answers each connection's next request with `Connection: close`, closes
   * connections that stay idle, and closes once every connection has gone, or after `timeoutMs`.
   */
  async retire(timeoutMs: number): Promise<void> {
    this.retiring = true;
    this.server.close();
    this.http.closeIdleConnections();
    this.http2?.retire();
    const deadline = Date.now() + timeoutMs;
    let idleSince = new Map<net.Socket, number>();
    while ((this.clients.size > 0 || (this.http2?.open ?? 0) > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Nothing in flight for a while: no request is coming. (One that just went quiet may have
      // a request on its way, which closing it would fail.)
      const now = Date.now();
      const next = new Map<net.Socket, number>();
      for (const [socket, exchanges] of this.clients) {
        if (this.tunnels.has(socket) || exchanges.list().length > 0) continue;
        const since = idleSince.get(socket) ?? now;
        if (now - since >= RETIRE_IDLE_MS) socket.end();
        else next.set(socket, since);
      }
      idleSince = next;
    }
    await this.close();
  }

  /**
   * Resolves when the targets have no request in flight, or after `timeoutMs`. Their upgraded
   * connections (WebSockets) are closed at once, as kamal-proxy does: they would hold the drain
   * for its whole timeout, and their clients reconnect, to the new release.
   */
  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void> {
    const keys = new Set(targets.map(targetKey));
    for (const tunnel of [...this.tunnels.values()]) if (keys.has(targetKey(tunnel.target))) tunnel.close();
    if (this.routes.activeRequests(targets) === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const drain: Drain = {
        keys,
        targets,
        done: () => {
          clearTimeout(deadline);
          this.drains.delete(drain);
          resolve();
        },
      };
      const deadline = setTimeout(drain.done, timeoutMs);
      this.drains.add(drain);
    });
  }

  /**
   * Takes a target out of rotation at once and puts it back as soon as it accepts connections
   * again (a crashed container that Docker restarts, say). Stops watching once no route uses it.
   */
  takeOut(target: RouteTarget): void {
    const key = targetKey(target);
    this.routes.markDown(key);
    if (this.probing.has(key)) return;
    this.probing.add(key);
    const stop = new AbortController();
    const watch = setInterval(() => {
      if (this.closed || !this.routes.isRouted(key)) stop.abort();
    }, 200);
    void waitForPort(target.port, stop.signal, 100, target.host).finally(() => {
      clearInterval(watch);
      this.probing.delete(key);
      // Back in rotation when it answers; forgotten when no route uses it any more.
      this.routes.markUp(key);
    });
  }

  /** A request (or tunnel) to the target ended: a drain waiting for it may be over. */
  private ended(target: RouteTarget): void {
    this.routes.end(target);
    if (this.drains.size === 0) return;
    for (const drain of [...this.drains]) if (this.routes.activeRequests(drain.targets) === 0) drain.done();
  }

  /**
   * Runs one of the router's socket or request handlers. An error in the router's own code closes
   * that one connection and is logged; the process (with the API and git) stays up.
   */
  private guard(socket: net.Socket | undefined, handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.crashed(socket, error);
    }
  }

  private crashed(socket: net.Socket | undefined, error: unknown): void {
    const where = socket?.remoteAddress === undefined ? '' : ` from ${socket.remoteAddress}`;
    socket?.destroy();
    const detail = error instanceof Error ? `${error.message} (${error.stack?.split('\n')[1]?.trim() ?? 'no stack'})` : String(error);
    this.log(`router: closed a connection${where} after an internal error: ${detail}`);
  }

  /**
   * A TCP connection to the HTTPS port, before its TLS handshake: counted against its address's
   * cap from now on (a client that never sends a ClientHello holds a connection too), or closed.
   */
  admitSecure(socket: net.Socket): boolean {
    return this.cap.admit(socket, false);
  }

  /**
   * A connection from the HTTPS port, TLS done (and counted by admitSecure): HTTP/1.1 joins the
   * same machinery as the plain port's connections (the fast path first), HTTP/2 goes to Node's
   * http2 server.
   */
  acceptSecure(socket: tls.TLSSocket): void {
    this.guard(socket, () => {
      if (socket.alpnProtocol === 'h2')
        (this.http2 ??= new Http2Front(
          (req, res, exchanges) => this.routeH2(req, res, exchanges),
          (handler) => this.guard(undefined, handler),
        )).accept(socket);
      else this.serve(socket);
    });
  }

  private accept(socket: net.Socket): void {
    if (this.cap.admit(socket)) this.serve(socket);
  }

  private serve(socket: net.Socket): void {
    const exchanges = new ClientExchanges<Exchange>();
    this.clients.set(socket, exchanges);
    socket.once('close', () => {
      this.clients.delete(socket);
      for (const exchange of exchanges.list()) this.guard(undefined, () => exchange.clientGone());
    });
    this.fast.add(new FastConnection(this.fastHost, socket, exchanges));
  }

  /** The app a Host header names, when that app exists (a route is proof enough, and cheap). */
  private knownApp(hostHeader: string | undefined): string | undefined {
    const app = this.appFor(hostHeader);
    if (app === undefined) return undefined;
    return this.routes.deploymentOf(app) !== undefined || this.options.appExists(app) ? app : undefined;
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

  private head(request: ClientRequestHead): Incoming {
    return requestHead(request, this.heads);
  }

  /** forceHttps: a request over plain HTTP is answered with a redirect to the same URL on HTTPS. */
  private redirected(app: string, secure: boolean, host: string | undefined, url: string, res: Sink): boolean {
    const httpsPort = this.options.httpsPort;
    if (secure || httpsPort === undefined || host === undefined || !this.options.forceHttps?.(app)) return false;
    httpsRedirect(res, host, url, httpsPort);
    return true;
  }

  /** An ACME challenge is answered for any Host, before routing (and before any redirect). */
  private answeredChallenge(url: string, res: Sink): boolean {
    // The common case costs one character comparison.
    if (url.charCodeAt(1) !== 46 /* . */) return false;
    const token = challengeToken(url);
    if (token === undefined) return false;
    answerChallenge(res, this.options.challenge?.(token));
    return true;
  }

  /** A request the fast path parsed. */
  private routeSimple(request: SimpleRequest, res: RawResponse, socket: net.Socket, exchanges: ClientExchanges<Exchange>): void {
    if (this.retiring) res.closeAfter();
    if (this.answeredChallenge(request.url, res)) return;
    const app = this.knownApp(request.host);
    if (app === undefined) {
      notFoundPage(res, request.host);
      return;
    }
    const secure = isSecure(socket);
    if (this.redirected(app, secure, request.host, request.url, res)) return;
    const incoming = this.head({
      method: request.method,
      url: request.url,
      rawHeaders: request.rawHeaders,
      remoteAddress: socket.remoteAddress,
      host: request.host,
      upgrade: false,
      secure,
    });
    this.forward(app, res, incoming, exchanges, undefined, NOTHING_REFUSED, 1);
  }

  /** An HTTP/2 stream (its pseudo-headers dropped: the upstream gets an HTTP/1.1 request). */
  private routeH2(req: http2.Http2ServerRequest, res: Sink, exchanges: ClientExchanges<Exchange>): void {
    if (this.answeredChallenge(req.url, res)) return;
    const host = req.authority ?? (req.headers.host as string | undefined);
    const app = this.knownApp(host);
    if (app === undefined) {
      notFoundPage(res, host);
      return;
    }
    const raw: string[] = [];
    let length = false;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (name.charCodeAt(0) === 58 /* : */ || name === 'host') continue;
      if (name === 'content-length') length = true;
      raw.push(name, req.rawHeaders[i + 1]!);
    }
    const hasBody = !req.stream.endAfterHeaders;
    // HTTP/2 frames the body itself: one without a length goes on chunked.
    if (hasBody && !length) raw.push('transfer-encoding', 'chunked');
    const incoming = this.head({
      method: req.method,
      url: req.url,
      rawHeaders: raw,
      remoteAddress: req.socket.remoteAddress,
      host,
      upgrade: false,
      secure: true,
    });
    // The stream's request is a Readable like Node's IncomingMessage: 'data', 'end', pause, resume are what the exchange uses.
    const body = hasBody ? (req as unknown as http.IncomingMessage) : undefined;
    this.forward(app, res, incoming, exchanges, body, NOTHING_REFUSED, 1);
  }

  /** A request Node's server parsed. */
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const exchanges = this.clients.get(req.socket);
    if (exchanges === undefined) return; // the client is already gone
    this.owe(req.socket, res);
    if (this.retiring) res.shouldKeepAlive = false;
    const host = hostOf(req.rawHeaders);
    if (host === false) {
      twoHostsPage(res as Sink);
      return;
    }
    if (this.answeredChallenge(req.url ?? '/', res as Sink)) return;
    const app = this.knownApp(host);
    if (app === undefined) {
      notFoundPage(res as Sink, host);
      return;
    }
    const secure = isSecure(req.socket);
    if (this.redirected(app, secure, host, req.url ?? '/', res as Sink)) return;
    const incoming = this.head({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      rawHeaders: req.rawHeaders,
      remoteAddress: req.socket.remoteAddress,
      host,
      upgrade: false,
      secure,
    });
    this.forward(app, res as Sink, incoming, exchanges, incoming.hasBody ? req : undefined, NOTHING_REFUSED, 1);
  }

  private forward(
    app: string,
    res: Sink,
    incoming: Incoming,
    exchanges: ClientExchanges<Exchange>,
    body: http.IncomingMessage | undefined,
    refused: ReadonlySet<string>,
    attempt: number,
  ): void {
    // Measured from here, whatever answers: the app, a retry, maintenance, a 502 or 504.
    const access = this.options.access;
    if (access !== undefined && attempt === 1) res = new MeteredSink(res, app, incoming, access);
    if (this.options.inMaintenance?.(app)) {
      maintenancePage(res, app);
      return;
    }
    if (incoming.secure && incoming.responseHeaders === undefined && this.options.hsts?.(app)) incoming.responseHeaders = HSTS;
    const target = this.routes.pick(app, refused);
    if (!target) {
      // A retry with every target in rotation tried: they closed on it, so the app could not be
      // reached; with none in rotation (all refused), nothing runs.
      if (attempt > 1 && this.routes.hasLive(app)) badGatewayPage(res, app);
      else notRunningPage(res, app);
      return;
    }
    if (res instanceof MeteredSink) res.attempt(target);
    const exchange = new Exchange(this.exchangeHost, app, res, incoming, exchanges, body, target, refused, attempt);
    exchange.start(this.pool);
  }

  /** Gives a connection to Node's HTTP server for good, with the bytes already read from it. */
  private handOver(conn: FastConnection, data: Buffer): void {
    this.fast.delete(conn);
    if (this.closed) {
      conn.socket.destroy();
      return;
    }
    conn.socket.unshift(data);
    this.http.emit('connection', conn.socket);
  }

  private sweep(): void {
    const now = Date.now();
    const late: Exchange[] = [];
    for (const exchanges of this.clients.values()) exchanges.late(now, late);
    if (this.http2 !== undefined) for (const exchanges of this.http2.streams) exchanges.late(now, late);
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
    const incoming = this.head({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      rawHeaders: req.rawHeaders,
      remoteAddress: socket.remoteAddress,
      host,
      upgrade: true,
      secure: isSecure(socket),
    });
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
      notFoundPage(response, host);
      return;
    }
    if (this.redirected(app, incoming.secure, host, req.url ?? '/', response)) return;
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
    this.fast.add(new FastConnection(this.fastHost, socket, exchanges));
  }

  /** The app answered 101: the connection becomes a tunnel, unless its target is being drained. */
  private tunnel(client: net.Socket, rest: Buffer, upstream: net.Socket, bytes: Buffer, target: RouteTarget): void {
    client.off('error', ignore);
    let draining = false;
    for (const drain of this.drains) if (drain.keys.has(targetKey(target))) draining = true;
    const close = openTunnel(client, rest, upstream, bytes, () => {
      this.tunnels.delete(client);
      this.ended(target);
    });
    this.tunnels.set(client, { target, close });
    if (this.closed || draining) close();
  }
}

function ignore(): void {}
