import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { AccessBatcher, MeteredSink, type AccessRecord } from '../../../src/router/access.js';
import type { Incoming } from '../../../src/router/request-head.js';
import type { Sink } from '../../../src/router/response.js';

const incoming = (url: string): Incoming => ({
  head: '',
  hasBody: false,
  chunkedBody: false,
  isHead: false,
  retryable: true,
  upgrade: false,
  secure: false,
  method: 'GET',
  url,
  client: '192.0.2.7',
  requestId: 'rid-1',
});

/** A Sink that only counts what reaches it. */
class CountingSink implements Sink {
  headersSent = false;
  writableLength = 0;
  status = 0;
  written = 0;
  ended = 0;
  tunnel?: (upstream: net.Socket, bytes: Buffer, target: { host: string; port: number; container: string }) => void;
  writeHead(status: number): void {
    this.status = status;
    this.headersSent = true;
  }
  write(chunk: Buffer): boolean {
    this.written += chunk.length;
    return true;
  }
  end(chunk?: Buffer | string): void {
    if (chunk !== undefined) this.written += chunk.length;
    this.ended++;
  }
  destroy(): void {}
  once(): void {}
}

function recorder(keepQuery = false): { records: AccessRecord[]; keepQuery: boolean; add(r: AccessRecord): void } {
  const records: AccessRecord[] = [];
  return { records, keepQuery, add: (r) => records.push(r) };
}

const target = (container: string) => ({ host: '127.0.0.1', port: 1, container });

test('one record per request when it ends: status, body bytes, the container of the last attempt, retries, no query string', () => {
  const rec = recorder();
  const inner = new CountingSink();
  const sink = new MeteredSink(inner, 'shop', incoming('/a?token=x'), rec);
  sink.attempt(target('c-1'));
  sink.attempt(target('c-2'));
  sink.writeHead(200, []);
  sink.write(Buffer.alloc(10));
  sink.end(Buffer.alloc(5));
  sink.destroy(); // after the end: no second record
  expect(inner).toMatchObject({ status: 200, written: 15, ended: 1 });
  expect(rec.records).toHaveLength(1);
  const [time, app, method, path, status, duration, bytes, container, id, client, retries, upgrade] = rec.records[0]!;
  expect([app, method, path, status, bytes, container, id, client, retries, upgrade]).toEqual([
    'shop',
    'GET',
    '/a',
    200,
    15,
    'c-2',
    'rid-1',
    '192.0.2.7',
    1,
    0,
  ]);
  expect(duration).toBeGreaterThanOrEqual(0);
  expect(Math.abs(time - Date.now())).toBeLessThan(60_000);
});

test('the query string stays when the router keeps it; a connection closed unanswered is status 0', () => {
  const rec = recorder(true);
  new MeteredSink(new CountingSink(), 'shop', incoming('/a?b=1'), rec).destroy();
  expect(rec.records[0]!.slice(3, 5)).toEqual(['/a?b=1', 0]);
});

test("a tunnel's record is written when its upstream socket closes, with status 101 and the bytes the app sent", () => {
  const rec = recorder();
  const inner = new CountingSink();
  let tunnelled = false;
  inner.tunnel = () => void (tunnelled = true);
  const sink = new MeteredSink(inner, 'shop', { ...incoming('/ws'), upgrade: true }, rec);
  const upstream = Object.assign(new EventEmitter(), { bytesRead: 0 }) as unknown as net.Socket & { bytesRead: number };
  sink.tunnel!(upstream, Buffer.alloc(0), target('c-1'));
  expect(tunnelled).toBe(true);
  expect(rec.records).toHaveLength(0);
  (upstream as { bytesRead: number }).bytesRead = 321;
  upstream.emit('close');
  expect(rec.records[0]!.slice(4, 8)).toEqual([101, expect.any(Number), 321, 'c-1']);
  expect(rec.records[0]![11]).toBe(1);
});

test('AccessBatcher: a full batch goes at once, the rest on flush or close; nothing is sent empty', () => {
  const batches: number[] = [];
  const batcher = new AccessBatcher((records) => batches.push(records.length), false, 60_000);
  const r: AccessRecord = [0, 'a', 'GET', '/', 200, 1, 1, '', 'id', 'c', 0, 0];
  for (let i = 0; i < 2001; i++) batcher.add(r);
  expect(batches).toEqual([2000]);
  batcher.flush();
  batcher.flush();
  expect(batches).toEqual([2000, 1]);
  batcher.add(r);
  batcher.close();
  expect(batches).toEqual([2000, 1, 1]);
});
