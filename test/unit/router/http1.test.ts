import { ChunkedDecoder, MalformedResponse, parseResponseHead, parseSimpleRequest } from '../../../src/router/http1.js';
import { RequestIds } from '../../../src/router/request-id.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseResponseHead', () => {
  test('a Content-Length response: status, end-to-end headers in order, length, keep-alive', () => {
    const text = 'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello';
    const head = parseResponseHead(b(text))!;
    expect(head).toEqual({
      status: 201,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'],
      contentLength: 5,
      chunked: false,
      untilClose: false,
      keepAlive: true,
      end: text.length - 5,
    });
  });

  test('null until the blank line has arrived, from any start offset', () => {
    expect(parseResponseHead(b('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n'))).toBeNull();
    const two = b('xxHTTP/1.1 204 No Content\r\n\r\n');
    expect(parseResponseHead(two, 2)).toMatchObject({ status: 204, end: two.length });
  });

  test('hop-by-hop headers and those named in Connection are dropped; Connection: close ends keep-alive', () => {
    const head = parseResponseHead(
      b(
        'HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Connection: x\r\nTrailer: Foo\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n',
      ),
    )!;
    expect(head.headers).toEqual(['X-Kept', 'yes']);
    expect(head.keepAlive).toBe(false);
  });

  test('chunked Transfer-Encoding wins over Content-Length, and neither header goes on', () => {
    const head = parseResponseHead(b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: gzip, chunked\r\nX-A: 1\r\n\r\n'))!;
    expect(head).toMatchObject({ chunked: true, untilClose: false, contentLength: -1, keepAlive: true, headers: ['X-A', '1'] });
  });

  test('no length at all, or a Transfer-Encoding without chunked last, runs until close', () => {
    expect(parseResponseHead(b('HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n'))).toMatchObject({ contentLength: -1, chunked: false, untilClose: false, keepAlive: true });
    expect(parseResponseHead(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'))).toMatchObject({ chunked: false, untilClose: true, keepAlive: false });
  });

  test('HTTP/1.0 keeps the connection only with Connection: keep-alive', () => {
    expect(parseResponseHead(b('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'))?.keepAlive).toBe(false);
    expect(parseResponseHead(b('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n'))?.keepAlive).toBe(true);
  });

  test('values are trimmed; a status line without a reason is fine; equal repeated lengths are one', () => {
    const head = parseResponseHead(b('HTTP/1.1 200\r\nX-A:   spaced  \r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\n'))!;
    expect(head.status).toBe(200);
    expect(head.headers[1]).toBe('spaced');
    expect(head.contentLength).toBe(3);
  });

  test('lines ended by a bare LF are accepted (RFC 9112 2.2; busybox CGI sends them), mixed or not; a bare CR is not', () => {
    const bare = b('HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nhi');
    expect(parseResponseHead(bare)).toMatchObject({
      status: 200,
      contentLength: 2,
      headers: ['Content-Type', 'text/plain', 'Content-Length', '2'],
      end: bare.length - 2,
    });
    const mixed = b('HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 4\r\n\nbody\r\n\r\n');
    expect(parseResponseHead(mixed)).toMatchObject({ contentLength: 4, headers: ['X-A', '1', 'Content-Length', '4'], end: mixed.indexOf('body') });
    expect(parseResponseHead(b('HTTP/1.1 200 OK\nX-A: 1\n'))).toBeNull();
    expect(() => parseResponseHead(b('HTTP/1.1 200 OK\rX-A: 1\n\n'))).toThrow(MalformedResponse);
  });

  test.each([
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['a non-numeric status', 'HTTP/1.1 2x0 OK\r\n\r\n'],
    ['a status below 100', 'HTTP/1.1 099 Odd\r\n\r\n'],
    ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nX-A\r\n\r\n'],
    ['whitespace before the colon', 'HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'],
    ['a negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
  ])('%s is malformed', (_label, text) => {
    expect(() => parseResponseHead(b(text))).toThrow(MalformedResponse);
  });

  test('a head over 64 KiB is malformed even before it ends', () => {
    expect(() => parseResponseHead(b(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(70 * 1024)}`))).toThrow(MalformedResponse);
  });
});

describe('ChunkedDecoder', () => {
  const body = '4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n';

  function decodeInPieces(text: string, size: number): { data: string; end: number; fedUpTo: number } {
    const decoder = new ChunkedDecoder();
    const buf = b(text);
    let data = '';
    for (let at = 0; at < buf.length; at += size) {
      const piece = buf.subarray(at, Math.min(at + size, buf.length));
      const end = decoder.feed(piece, 0, (d) => (data += d.toString('latin1')));
      if (end >= 0) return { data, end: at + end, fedUpTo: at };
    }
    return { data, end: -1, fedUpTo: buf.length };
  }

  test('decodes chunks, skipping extensions and trailers, and says where the body ended', () => {
    const decoder = new ChunkedDecoder();
    let data = '';
    const buf = b(`${body}NEXT`);
    const end = decoder.feed(buf, 0, (d) => (data += d.toString('latin1')));
    expect(data).toBe('Wikipedia in \r\n\r\nchunks.');
    expect(buf.subarray(end).toString()).toBe('NEXT');
  });

  test.each([1, 2, 3, 5, 7, 64])('gives the same result fed %i bytes at a time', (size) => {
    const result = decodeInPieces(body, size);
    expect(result.data).toBe('Wikipedia in \r\n\r\nchunks.');
    expect(result.end).toBe(body.length);
  });

  test('starts at the given offset and needs more bytes before the last chunk', () => {
    const decoder = new ChunkedDecoder();
    const seen: string[] = [];
    expect(decoder.feed(b('HEAD3\r\nabc\r\n'), 4, (d) => seen.push(d.toString()))).toBe(-1);
    expect(decoder.feed(b('0\r\n\r\n'), 0, (d) => seen.push(d.toString()))).toBe(5);
    expect(seen).toEqual(['abc']);
  });

  test.each([
    ['a bad size', 'zz\r\nabc\r\n'],
    ['a chunk without its CRLF', '3\r\nabcX\r\n'],
    ['a size line ended by a bare LF', '3\nabc\r\n'],
    ['an empty size', '\r\n'],
  ])('%s is malformed', (_label, text) => {
    expect(() => new ChunkedDecoder().feed(b(text), 0, () => undefined)).toThrow(MalformedResponse);
  });
});

describe('RequestIds', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  test('gives UUID-shaped ids that do not repeat', () => {
    const ids = new RequestIds();
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = ids.next();
      expect(id).toMatch(UUID);
      seen.add(id);
    }
    expect(seen.size).toBe(10_000);
  });

  test('two generators (two router processes) do not share a prefix', () => {
    const a = new RequestIds().next();
    const b2 = new RequestIds().next();
    expect(a.slice(0, 24)).not.toBe(b2.slice(0, 24));
  });
});

describe('parseSimpleRequest', () => {
  test('a plain keep-alive GET: method, target, trimmed raw headers, Host and where the head ends', () => {
    const text = 'GET /a?b=1 HTTP/1.1\r\nHost: shop.test.local\r\nX-Thing:  v  \r\nConnection: Keep-Alive\r\n\r\nGET /next';
    expect(parseSimpleRequest(b(text))).toEqual({
      method: 'GET',
      url: '/a?b=1',
      rawHeaders: ['Host', 'shop.test.local', 'X-Thing', 'v', 'Connection', 'Keep-Alive'],
      host: 'shop.test.local',
      end: text.indexOf('GET /next'),
    });
  });

  test('HEAD, OPTIONS and DELETE without a body are plain too', () => {
    for (const method of ['HEAD', 'OPTIONS', 'DELETE']) {
      expect(parseSimpleRequest(b(`${method} / HTTP/1.1\r\nhost: a.test.local\r\n\r\n`))?.method).toBe(method);
    }
  });

  test.each([
    ['an incomplete head', 'GET / HTTP/1.1\r\nHost: a\r\n'],
    ['a body by length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi'],
    ['a GET with a length', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n'],
    ['a chunked body', 'DELETE / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
    ['Expect', 'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n'],
    ['Connection: close', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'],
    ['headers named in Connection', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\n\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['an absolute target', 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\n2\r\n\r\n'],
    ['a control character', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n'],
    ['non-ASCII', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xe9\r\n\r\n'],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['whitespace before a colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['extra spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])("%s is left to Node's HTTP server (null)", (_label, text) => {
    expect(parseSimpleRequest(b(text))).toBeNull();
  });
});
