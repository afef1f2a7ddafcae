/**
 * One request through the upstream: over a pooled connection (or one of its own, for an upgrade),
 * write the head and stream the body, parse the response head, relay the body with backpressure
 * both ways, and decide whether a failure may be retried.
 */
import type http from 'node:http';
import type { RouteTarget } from '../store/store.js';
import type { ClientExchanges, InFlight } from './client-exchanges.js';
import { ChunkedDecoder, MalformedResponse, parseResponseHead, type ResponseHead } from './http1.js';
import { badGatewayPage, gatewayTimeoutPage } from './pages.js';
import type { Incoming } from './request-head.js';
import type { Sink } from './response.js';
import { targetKey } from './table.js';
import type { UpstreamConnection, UpstreamPool, UpstreamUser } from './upstream.js';

const MAX_ATTEMPTS = 4;
/**
 * Body chunks up to this size are copied before they are written to the client, rather than
 * kept in the upstream connection's read buffer (UpstreamConnection.hold), which then needs a new
 * 64 KB buffer for its next read. A TLS socket finishes every write on a later turn of the event
 * loop (Node defers the callback), so without the copy every small HTTPS response cost a 64 KB
 * allocation; a copy this small comes from Node's buffer pool.
 */
const COPY_BELOW = 4096;

/** What an exchange asks of the router. */
export interface ExchangeHost {
  /** How long an upstream may take to start its response. */
  readonly timeoutMs: number;
  /** A request to the target starts, or ends (counted for drain). */
  begin(target: RouteTarget): void;
  end(target: RouteTarget): void;
  /** The target refused a connection (or its host is unreachable): out of rotation until it listens again. */
  refused(target: RouteTarget): void;
  /** Sends the request again, to a target not in `refused`. */
  retry(
    app: string,
    res: Sink,
    incoming: Incoming,
    exchanges: ClientExchanges<Exchange>,
    body: http.IncomingMessage | undefined,
    refused: ReadonlySet<string>,
    attempt: number,
  ): void;
  /** The router's own code failed (the client's connection is already closed). */
  crashed(error: unknown): void;
}

/** Errors of a connection that never reached the target: nothing was sent, the target is not there. */
const UNREACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/** Whether the error says the target could not be reached at all (it is taken out of rotation). */
function unreached(code: string | undefined): boolean {
  return code !== undefined && UNREACHED.has(code);
}

/**
 * Whether a failed exchange goes again: `elsewhere` when the connection never reached the target
 * (refused, or its host unreachable), or when the target closed or reset a fresh connection
 * before answering (its process is dying: a container being stopped, a swarm node going down;
 * nginx's `proxy_next_upstream error` does the same); `again` when a pooled connection was closed
 * by the app just as it was reused (nothing was read back, so the app did not answer it), else
 * `no`. Only requests nothing is lost by repeating (retryable), and at most MAX_ATTEMPTS in all.
 */
export function retryDecision(code: string | undefined, reused: boolean, gotBytes: boolean, retryable: boolean, attempt: number): 'elsewhere' | 'again' | 'no' {
  if (!retryable || attempt >= MAX_ATTEMPTS) return 'no';
  if (unreached(code)) return 'elsewhere';
  const closedUnanswered = !gotBytes && (code === undefined || code === 'ECONNRESET' || code === 'EPIPE');
  if (!closedUnanswered) return 'no';
  return reused ? 'again' : 'elsewhere';
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
export class Exchange implements UpstreamUser, InFlight {
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
    private readonly host: ExchangeHost,
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
    this.host.begin(this.target);
    this.exchanges.add(this);
    this.deadline = Date.now() + this.host.timeoutMs;
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
    this.deadline = Date.now() + this.host.timeoutMs;
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
      this.host.end(this.target);
    }
    const conn = this.conn;
    this.conn = undefined;
    conn?.destroy();
    this.res.destroy();
    this.host.crashed(error);
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
    const buf = this.buffered === undefined ? data : Buffer.concat([this.buffered, data]);
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
      const extra = this.incoming.responseHeaders;
      this.res.writeHead(status, extra === undefined ? head.headers : head.headers.concat(extra));
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
    const small = chunk.length < COPY_BELOW;
    const flushed = this.res.write(small ? Buffer.from(chunk) : chunk);
    // Queued rather than written: the chunk still lies in the connection's read buffer.
    if (!small && this.res.writableLength > 0) this.conn?.hold();
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
    const small = last === undefined || last.length < COPY_BELOW;
    this.res.end(small && last !== undefined ? Buffer.from(last) : last);
    if (!small && this.res.writableLength > 0) conn?.hold();
  }

  private settle(): void {
    this.finished = true;
    this.exchanges.delete(this);
    this.host.end(this.target);
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
    if (unreached(code)) this.host.refused(this.target);
    const retry = retryDecision(code, reused, this.gotBytes, this.incoming.retryable, this.attempt);
    if (retry !== 'no') {
      // A second unanswered close in a row is no idle connection's: the target is dying (its
      // pooled connections reset one after the other), so the next attempt goes elsewhere.
      const elsewhere = retry === 'elsewhere' || (retry === 'again' && this.attempt > 1);
      const tried = elsewhere ? new Set([...this.refused, targetKey(this.target)]) : this.refused;
      this.host.retry(this.app, res, this.incoming, this.exchanges, this.req, tried, this.attempt + 1);
      return;
    }
    if (error instanceof UpstreamTimeout) gatewayTimeoutPage(res, this.app);
    else badGatewayPage(res, this.app);
  }
}

/** The target did not answer in time: a 504, never retried (the app may still be working on it). */
class UpstreamTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}
