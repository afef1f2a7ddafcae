import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { AccessBatcher, MeteredSink, type AccessRecord, type AccessRecorder, type AppTraffic } from '../../../src/router/access.js';
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

function recorder(keepQuery = false): AccessRecorder & { records: AccessRecord[] } {
  const records: AccessRecord[] = [];
  return { records, keepQuery, add: (r) => records.push(r), follow: () => undefined, flush: () => undefined };
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

const line = (app: string, status: number, ms: number, id: string, upgrade: 0 | 1 = 0): AccessRecord => [
  0,
  app,
  'GET',
  '/',
  status,
  ms,
  10,
  '',
  id,
  'c',
  status === 502 ? 1 : 0,
  upgrade,
];

test('AccessBatcher: sums every request per app; lines of apps nobody follows go every 40 ticks (10 s), the latest `limit` of them', () => {
  const sent: AppTraffic[][] = [];
  const batcher = new AccessBatcher((traffic) => sent.push(traffic), false, 3, 60_000);
  for (let i = 1; i <= 5; i++) batcher.add(line('shop', 200, i, `s${i}`));
  batcher.add(line('shop', 502, 9, 's6'));
  batcher.add(line('shop', 101, 60_000, 's7', 1));
  batcher.add(line('blog', 404, 2, 'b1'));
  batcher.tick(); // sums only
  expect(sent).toHaveLength(1);
  expect(sent[0]).toEqual([
    { app: 'shop', statuses: { 101: 1, 200: 5, 502: 1 }, durations: { 200: [1, 2, 3, 4, 5], 502: [9] }, bytes: 70, retries: 1, lines: [] },
    { app: 'blog', statuses: { 404: 1 }, durations: { 404: [2] }, bytes: 10, retries: 0, lines: [] },
  ]);
  batcher.add(line('shop', 200, 1, 's8'));
  batcher.tick();
  for (let tick = 3; tick < 40; tick++) batcher.tick(); // nothing new
  expect(sent).toHaveLength(2);
  batcher.tick(); // the 40th: lines too, oldest first, at most 3 per app
  expect(sent).toHaveLength(3);
  expect(sent[2]!.map((t) => [t.app, t.statuses, t.lines.map((r) => r[8])])).toEqual([
    ['shop', {}, ['s6', 's7', 's8']],
    ['blog', {}, ['b1']],
  ]);
  batcher.tick();
  batcher.close();
  expect(sent).toHaveLength(3); // nothing is sent empty
});

test('AccessBatcher: a followed app sends every line each tick, in order, even past the limit; unfollowed, the limit again', () => {
  const sent: AppTraffic[][] = [];
  const batcher = new AccessBatcher((traffic) => sent.push(traffic), false, 2, 60_000);
  for (let i = 1; i <= 3; i++) batcher.add(line('shop', 200, 1, `a${i}`)); // a ring of 2: a2, a3
  batcher.follow(['shop']);
  for (let i = 4; i <= 6; i++) batcher.add(line('shop', 200, 1, `a${i}`));
  batcher.add(line('blog', 200, 1, 'b1'));
  batcher.tick();
  expect(sent[0]!.map((t) => [t.app, t.lines.map((r) => r[8])])).toEqual([
    ['shop', ['a2', 'a3', 'a4', 'a5', 'a6']],
    ['blog', []],
  ]);
  batcher.follow([]);
  for (let i = 7; i <= 9; i++) batcher.add(line('shop', 200, 1, `a${i}`));
  batcher.close();
  // (shop's window went empty after the last tick and came back after blog's)
  expect(sent[1]!.map((t) => [t.app, t.lines.map((r) => r[8])])).toEqual([
    ['blog', ['b1']],
    ['shop', ['a8', 'a9']],
  ]);
});
