/**
 * The request head a container receives: the client's end-to-end headers, then the router's own
 * Host, X-Forwarded-* and X-Request-Id. Pure: unit-tested without sockets.
 */

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
export /** What the router makes of a request once, however many targets it then tries. */
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
  /** The client reached the router over TLS (its HTTPS port). */
  secure: boolean;
  /** Headers the router adds to the app's response (Strict-Transport-Security). */
  responseHeaders?: readonly string[];
  /** For the access log: the request line's method and target, the client's address, the request id sent on. */
  method: string;
  url: string;
  client: string;
  requestId: string;
}

/** A client's request as Node's server or the fast path parsed it. */
export interface ClientRequestHead {
  method: string;
  url: string;
  /** Header names and values, alternating, as received. */
  rawHeaders: string[];
  remoteAddress: string | undefined;
  host: string | undefined;
  /** An Upgrade request: the Upgrade header goes on, and the app may switch protocols. */
  upgrade: boolean;
  /** It came over the router's own TLS (its HTTPS port): the app is told https. */
  secure?: boolean;
}

export interface HeadOptions {
  /** A TLS proxy in front sets X-Forwarded-Proto: its value goes on (https when it sets none). */
  tlsInFront: boolean;
  /** A new request id, for a request that came without one. */
  requestId(): string;
}

/** Builds the upstream request head: end-to-end headers as sent, then the X-Forwarded-* set. */
export function requestHead(request: ClientRequestHead, options: HeadOptions): Incoming {
  const { method, url, rawHeaders: raw, remoteAddress, host, upgrade } = request;
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
  requestId ??= options.requestId();
  head += `X-Forwarded-For: ${forwardedFor === undefined ? client : `${forwardedFor}, ${client}`}\r\nX-Forwarded-Proto: ${request.secure === true ? 'https' : options.tlsInFront ? (proto ?? 'https') : 'http'}\r\nX-Forwarded-Host: ${host ?? ''}\r\nX-Request-Id: ${requestId}\r\n`;
  if (upgrade) head += `Upgrade: ${upgradeValue ?? ''}\r\n`;
  return {
    head,
    hasBody,
    chunkedBody,
    isHead: method === 'HEAD',
    retryable: !hasBody && (method === 'GET' || method === 'HEAD' || method === 'OPTIONS'),
    upgrade,
    secure: request.secure === true,
    method,
    url,
    client,
    requestId,
  };
}

/**
 * The Host header, without building `req.headers` (Node makes that object lazily); false when
 * there are several (RFC 9112 §3.2: a server answers 400, rather than route by one of them).
 */
export function hostOf(raw: string[]): string | undefined | false {
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
