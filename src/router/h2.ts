/**
 * HTTP/2 on the HTTPS port, for clients that offer it (ALPN h2): Node's http2 server parses the
 * frames; each stream becomes one request through the same Exchange as HTTP/1.1, over the same
 * pooled HTTP/1.1 upstream connections. Only the client side speaks HTTP/2.
 */
import http2 from 'node:http2';
import type tls from 'node:tls';
import { ClientExchanges } from './client-exchanges.js';
import type { Exchange } from './exchange.js';
import type { Sink } from './response.js';

/** Response headers that are HTTP/1.1 connection business; HTTP/2 forbids them (RFC 9113 §8.2.2). */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** An HTTP/2 stream's response, as an Exchange writes it. */
class H2Response implements Sink {
  constructor(private readonly res: http2.Http2ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get writableLength(): number {
    return this.res.stream.writableLength;
  }

  writeHead(status: number, headers: string[]): this {
    const out: http2.OutgoingHttpHeaders = {};
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      const value = headers[i + 1]!;
      if (CONNECTION_HEADERS.has(name)) continue;
      const existing = out[name];
      if (existing === undefined) out[name] = value;
      else if (Array.isArray(existing)) existing.push(value);
      else out[name] = name === 'set-cookie' ? [String(existing), value] : `${String(existing)}, ${value}`;
    }
    this.res.writeHead(status, out);
    return this;
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  end(chunk?: Buffer | string): void {
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
  }

  destroy(): void {
    this.res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }

  once(event: 'drain', listener: () => void): void {
    this.res.once(event, listener);
  }
}

/** What the HTTP/2 side asks of the router: to answer one request like any other. */
export type H2Route = (req: http2.Http2ServerRequest, res: Sink, exchanges: ClientExchanges<Exchange>) => void;

export class Http2Front {
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Exchanges in flight, one set per open stream (checked for the upstream timeout). */
  readonly streams = new Set<ClientExchanges<Exchange>>();

  constructor(
    route: H2Route,
    private readonly guard: (handler: () => void) => void,
  ) {
    // A plain (non-TLS) http2 server: the router's TLS server did the handshake and hands over
    // the TLSSocket, whose ALPN said h2.
    this.server = http2.createServer({ settings: { enableConnectProtocol: false } }, (req, res) =>
      this.guard(() => {
        const exchanges = new ClientExchanges<Exchange>();
        this.streams.add(exchanges);
        res.once('close', () => {
          this.streams.delete(exchanges);
          // A stream reset by the client ends its exchange (and frees the upstream connection).
          for (const exchange of exchanges.list()) exchange.clientGone();
        });
        route(req, new H2Response(res), exchanges);
      }),
    );
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
  }

  accept(socket: tls.TLSSocket): void {
    this.server.emit('connection', socket);
  }

  /** How many HTTP/2 connections are open. */
  get open(): number {
    return this.sessions.size;
  }

  /** GOAWAY to every client: open streams finish, new ones go to a new connection. */
  retire(): void {
    for (const session of this.sessions) session.close();
  }

  close(): void {
    for (const session of this.sessions) session.destroy();
    this.server.close();
  }
}
