/**
 * The fast path: plain requests (parseSimpleRequest) parsed and answered by the router itself,
 * pipelined ones in a loop with a bound per turn and backpressure from the client.
 */
import type net from 'node:net';
import type { ClientExchanges } from './client-exchanges.js';
import type { Exchange } from './exchange.js';
import { parseSimpleRequest, type SimpleRequest } from './http1.js';
import { KEEP_ALIVE_MS, RawResponse } from './response.js';

/** Pipelined requests the fast path serves in one turn of the event loop before letting others run. */
const MAX_PIPELINED_PER_TURN = 32;
/** Response bytes a client may leave unread before the fast path stops reading its requests. */
const MAX_UNREAD_RESPONSE_BYTES = 256 * 1024;

/** What a fast-path connection asks of the router. */
export interface FastPathHost {
  /** Runs a handler; an error in it closes the connection and is logged. */
  guard(socket: net.Socket, handler: () => void): void;
  /** Answers one plain request: the app's response, or the router's page. */
  route(request: SimpleRequest, res: RawResponse, socket: net.Socket, exchanges: ClientExchanges<Exchange>): void;
  /** Gives the connection to Node's HTTP server for good, with the bytes not served yet. */
  handOver(conn: FastConnection, data: Buffer): void;
  /** The connection closed. */
  forget(conn: FastConnection): void;
}

/**
 * A client connection while its requests are plain enough for the fast path (parseSimpleRequest):
 * the router parses them and writes the responses itself. The first request that is not plain
 * (a body, an upgrade, a partial head…) hands the connection to Node's HTTP server for good.
 */
export class FastConnection {
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
  private readonly onData = (data: Buffer): void => this.host.guard(this.socket, () => this.read(data));
  private readonly onClose = (): void => this.host.forget(this);
  private readonly onTimeout = (): void => {
    if (!this.busy) this.socket.destroy();
  };
  private readonly next = (): void => {
    this.waiting = false;
    this.host.guard(this.socket, () => this.serveWaiting());
  };

  constructor(
    private readonly host: FastPathHost,
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
      this.host.handOver(this, data);
      // Resumed only now that Node's server listens, or what was read would go nowhere.
      if (this.paused) this.socket.resume();
      return;
    }
    this.busy = true;
    if (request.end < data.length) this.pending = data.subarray(request.end);
    const response = new RawResponse(this.socket, request.method === 'HEAD', this.responded);
    this.host.route(request, response, this.socket, this.exchanges);
  }

  /** The response went out whole: on to the next request, if one is waiting. */
  private readonly responded = (): void => {
    this.busy = false;
    this.serveWaiting();
  };
}

function ignore(): void {}
