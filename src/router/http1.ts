/**
 * The parts of HTTP/1.1 the router's upstream client needs (RFC 9112): reading a response head
 * and decoding a chunked body. Pure and incremental, so they can be fed socket reads as they come.
 */

export class MalformedResponse extends Error {}

/** Response headers that describe this hop's connection or framing, never the message. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'transfer-encoding']);
const MAX_HEAD_BYTES = 64 * 1024;
/** 1 at the lengths of the names above and of content-length (14). */
const HOP_BY_HOP_LENGTHS = new Uint8Array(32);
for (const name of [...HOP_BY_HOP, 'content-length']) HOP_BY_HOP_LENGTHS[name.length] = 1;
const RESPONSE_HEAD = /^HTTP\/1\.[01] \d{3}(?: [\t\x20-\x7e\x80-\xff]*)?(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*$/;

/**
 * A head whose lines end in a bare LF, which RFC 9112 (2.2) lets a recipient accept (busybox's
 * CGI sends them): its text with CRLF line ends, and the offset past its blank line.
 */
function bareLfHead(buf: Buffer, start: number): { text: string; end: number } | undefined {
  const window = buf.toString('latin1', start, Math.min(buf.length, start + MAX_HEAD_BYTES + 4));
  const blank = /\r?\n\r?\n/.exec(window);
  if (!blank) return undefined;
  return { text: window.slice(0, blank.index).replace(/\r?\n/g, '\r\n'), end: start + blank.index + blank[0].length };
}

export interface ResponseHead {
  status: number;
  /** The end-to-end headers as alternating names and values, in the order received. */
  headers: string[];
  /** Content-Length, or -1 when absent or overridden by Transfer-Encoding. */
  contentLength: number;
  chunked: boolean;
  /** Transfer-Encoding without chunked last: the body runs until the connection closes. */
  untilClose: boolean;
  /** Whether the upstream lets the connection carry another request. */
  keepAlive: boolean;
  /** Offset just past the blank line that ends the head. */
  end: number;
}

/**
 * Parses the response head starting at `start`: null when the head is not complete yet.
 * Throws MalformedResponse for what a proxy must not pass on (bad status line, obsolete line
 * folding, conflicting lengths, a head over 64 KiB).
 */
export function parseResponseHead(buf: Buffer, start = 0): ResponseHead | null {
  const blank = buf.indexOf('\r\n\r\n', start, 'latin1');
  let text = blank < 0 ? '' : buf.toString('latin1', start, blank);
  let end = blank + 4;
  if (blank < 0 || !RESPONSE_HEAD.test(text)) {
    const bare = bareLfHead(buf, start);
    if (bare) ({ text, end } = bare);
    else if (blank < 0) {
      if (buf.length - start > MAX_HEAD_BYTES) throw new MalformedResponse('response head too large');
      return null;
    }
  }
  if (end - 4 - start > MAX_HEAD_BYTES) throw new MalformedResponse('response head too large');
  // One pass checks the status line and every header line: token names, printable values, no
  // bare CR, no obsolete line folding, no whitespace before a colon.
  if (!RESPONSE_HEAD.test(text)) throw new MalformedResponse('malformed response head');
  const lines = text.split('\r\n');
  const statusLine = lines[0]!;
  const status = (statusLine.charCodeAt(9) - 48) * 100 + (statusLine.charCodeAt(10) - 48) * 10 + (statusLine.charCodeAt(11) - 48);
  if (status < 100) throw new MalformedResponse('bad status code');
  const http10 = statusLine.charCodeAt(7) === 48; // "HTTP/1.0"
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let close = false;
  let keepAliveToken = false;
  let named: Set<string> | undefined;
  const headers: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    // Only names as long as one the router cares about are lower-cased and looked at.
    if (HOP_BY_HOP_LENGTHS[name.length] === 1) {
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        const length = parseLength(value);
        if (contentLength >= 0 && length !== contentLength) throw new MalformedResponse('conflicting Content-Length');
        contentLength = length;
      } else if (lower === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        continue;
      } else if (lower === 'connection') {
        for (const raw of value.split(',')) {
          const token = raw.trim().toLowerCase();
          if (token === 'close') close = true;
          else if (token === 'keep-alive') keepAliveToken = true;
          else if (token !== '') (named ??= new Set()).add(token);
        }
        continue;
      } else if (HOP_BY_HOP.has(lower)) continue;
    }
    headers.push(name, value);
  }
  let chunked = false;
  let untilClose = false;
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.split(',');
    chunked = codings[codings.length - 1]!.trim().toLowerCase() === 'chunked';
    untilClose = !chunked;
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3): the length must not go on.
    if (contentLength >= 0) {
      contentLength = -1;
      dropHeader(headers, 'content-length');
    }
  }
  if (named !== undefined) for (const name of named) dropHeader(headers, name);
  const keepAlive = !close && !untilClose && (!http10 || keepAliveToken);
  return { status, headers, contentLength, chunked, untilClose, keepAlive, end };
}

function parseLength(value: string): number {
  // "5, 5" (a repeated field folded into a list) is one length when all its members agree.
  let length = -1;
  for (const part of value.split(',')) {
    const digits = part.trim();
    if (digits === '' || digits.length > 15 || !/^\d+$/.test(digits)) throw new MalformedResponse('bad Content-Length');
    const n = Number(digits);
    if (length >= 0 && n !== length) throw new MalformedResponse('conflicting Content-Length');
    length = n;
  }
  return length;
}

function dropHeader(headers: string[], lowerName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i]!.toLowerCase() === lowerName) headers.splice(i, 2);
}

const enum Chunk {
  Size,
  Data,
  DataCr,
  DataLf,
  Trailer,
}

const MAX_LINE = 4096;

/** Decodes a chunked body fed in arbitrary pieces (RFC 9112 §7.1); extensions and trailers are dropped. */
export class ChunkedDecoder {
  private state = Chunk.Size;
  private remaining = 0;
  private line = '';

  /**
   * Passes each piece of body data in `buf` from `start` to `onData`. Returns the offset just
   * past the end of the chunked body, or -1 when it needs more bytes. Throws MalformedResponse.
   */
  feed(buf: Buffer, start: number, onData: (data: Buffer) => void): number {
    let i = start;
    const length = buf.length;
    while (i < length) {
      switch (this.state) {
        case Chunk.Data: {
          const n = Math.min(this.remaining, length - i);
          onData(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (buf[i++] !== 13) throw new MalformedResponse('chunk not followed by CRLF');
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (buf[i++] !== 10) throw new MalformedResponse('chunk not followed by CRLF');
          this.state = Chunk.Size;
          break;
        case Chunk.Size:
        case Chunk.Trailer: {
          const lf = buf.indexOf(10, i);
          const stop = lf < 0 ? length : lf;
          this.line += buf.toString('latin1', i, stop);
          if (this.line.length > MAX_LINE) throw new MalformedResponse('chunk line too long');
          if (lf < 0) return -1;
          i = lf + 1;
          let line = this.line;
          this.line = '';
          if (!line.endsWith('\r')) throw new MalformedResponse('chunk line not ended by CRLF');
          line = line.slice(0, -1);
          if (this.state === Chunk.Trailer) {
            if (line === '') {
              this.state = Chunk.Size;
              return i;
            }
            break;
          }
          const semicolon = line.indexOf(';');
          const hex = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
          if (hex === '' || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) throw new MalformedResponse('bad chunk size');
          const size = parseInt(hex, 16);
          if (size === 0) this.state = Chunk.Trailer;
          else {
            this.remaining = size;
            this.state = Chunk.Data;
          }
          break;
        }
      }
    }
    return -1;
  }
}

/** A request the router's fast path can relay without Node's HTTP server: see parseSimpleRequest. */
export interface SimpleRequest {
  method: string;
  url: string;
  /** Header names and values, alternating, values trimmed (like Node's rawHeaders). */
  rawHeaders: string[];
  host: string;
  /** Offset just past the blank line that ends the head. */
  end: number;
}

/** The methods the fast path takes, each to one string: a request's method is then no new string (access lines keep it). */
const SIMPLE_METHODS = new Map(['GET', 'HEAD', 'OPTIONS', 'DELETE'].map((m) => [m, m]));
const PRINTABLE_LINES = /^[\t\x20-\x7e]+(?:\r\n[\t\x20-\x7e]+)*$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VISIBLE = /^[\x21-\x7e]+$/;
const MAX_SIMPLE_HEAD = 16 * 1024;

/**
 * The request head at the start of `buf` when it is complete and as plain as requests get: an
 * HTTP/1.1 GET, HEAD, OPTIONS or DELETE for an origin-form target, printable ASCII only, one Host,
 * no body (neither Content-Length nor Transfer-Encoding), no Upgrade or Expect, and Connection
 * (if any) just keep-alive. Anything else gives null: Node's HTTP server then handles it.
 */
export function parseSimpleRequest(buf: Buffer): SimpleRequest | null {
  const blank = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (blank < 0 || blank > MAX_SIMPLE_HEAD) return null;
  const text = buf.toString('latin1', 0, blank);
  if (!PRINTABLE_LINES.test(text)) return null;
  const lines = text.split('\r\n');
  const requestLine = lines[0]!.split(' ');
  if (requestLine.length !== 3 || requestLine[2] !== 'HTTP/1.1') return null;
  const method = SIMPLE_METHODS.get(requestLine[0]!);
  const url = requestLine[1]!;
  // A TAB or other control character in the target: Node's parser answers 400, so it decides.
  if (method === undefined || url.charCodeAt(0) !== 47 /* / */ || !VISIBLE.test(url)) return null;
  const rawHeaders: string[] = [];
  let host: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (host !== undefined) return null;
          host = value;
        }
        break;
      case 6:
        if (name.toLowerCase() === 'expect') return null;
        break;
      case 7:
        if (name.toLowerCase() === 'upgrade') return null;
        break;
      case 10:
        if (name.toLowerCase() === 'connection' && value.toLowerCase() !== 'keep-alive') return null;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') return null;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') return null;
        break;
    }
    rawHeaders.push(name, value);
  }
  if (host === undefined) return null;
  return { method, url, rawHeaders, host, end: blank + 4 };
}
