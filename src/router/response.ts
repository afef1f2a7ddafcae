/** Where a response goes: Node's ServerResponse, or a response the router writes on the socket itself. */
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { RouteTarget } from '../store/store.js';

/** How long an idle client connection stays open (Keep-Alive: timeout=65). */
export const KEEP_ALIVE_MS = 65_000;
/** A response's last piece smaller than this goes out with its head in one write. */
const ONE_WRITE_BELOW = 4096;

export /** Where a response goes: Node's ServerResponse, or the fast path's RawResponse. */
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

/**
 * The fast path's response (and the answer to an upgrade request): the status line and headers
 * Node's ServerResponse would write. The headers are the router's own or came through
 * parseResponseHead, which let only valid ones by.
 */
export class RawResponse implements Sink {
  headersSent = false;
  private head = '';
  private chunked = false;
  private done = false;
  /** The connection ends with this response (the router is handing its port over). */
  private closing = false;

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
    this.head = this.closing ? `${head}Connection: close\r\n\r\n` : `${head}Connection: keep-alive\r\nKeep-Alive: timeout=${KEEP_ALIVE_MS / 1000}\r\n\r\n`;
    this.headersSent = true;
    return this;
  }

  /** Says `Connection: close` and ends the connection after this response. */
  closeAfter(): void {
    this.closing = true;
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
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.head !== '' && !this.chunked && (body === undefined || this.noBody || body.length < ONE_WRITE_BELOW)) {
      // A small response whole, head and body in one string: one write, no writev of pieces.
      socket.write(body === undefined || this.noBody ? this.head : this.head + body.toString('latin1'), 'latin1');
      this.head = '';
      return this.ended(socket);
    }
    socket.cork();
    this.send(socket, body);
    if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
    socket.uncork();
    return this.ended(socket);
  }

  private ended(socket: net.Socket): this {
    this.done = true;
    if (this.closing) {
      socket.end();
      return this;
    }
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
