import type { AccessRecord } from '../../../src/router/access.js';
import { LineRing } from '../../../src/router/line-ring.js';

const record = (n: number, over: Partial<{ path: string; id: string; method: string; upgrade: 0 | 1 }> = {}): AccessRecord => [
  1_764_500_000_000 + n,
  'shop',
  over.method ?? 'GET',
  over.path ?? `/p/${n}`,
  200 + (n % 3),
  n + 0.125,
  n * 1000,
  `c-${n % 2}`,
  over.id ?? `id-${n}`,
  '192.0.2.7',
  n % 4,
  over.upgrade ?? 0,
];

test('every field of every line comes back as it went in, oldest first, and the ring is empty after', () => {
  const ring = new LineRing('shop');
  const records = Array.from({ length: 40 }, (_, n) => record(n));
  for (const r of records) ring.push(r, 100);
  expect(ring.length).toBe(40);
  expect(ring.take(100)).toEqual(records);
  expect(ring.length).toBe(0);
  expect(ring.take(100)).toEqual([]);
});

test('past its limit it keeps the newest lines; take returns at most the last `limit` of them', () => {
  const ring = new LineRing('shop');
  for (let n = 0; n < 1000; n++) ring.push(record(n), 50);
  expect(ring.length).toBe(50);
  expect(ring.take(50).map((r) => r[8])).toEqual(Array.from({ length: 50 }, (_, k) => `id-${950 + k}`));
  for (let n = 0; n < 30; n++) ring.push(record(n), 50);
  expect(ring.take(10).map((r) => r[8])).toEqual(Array.from({ length: 10 }, (_, k) => `id-${20 + k}`));
});

test('a limit that rises (an app someone follows) keeps every line; one that falls again keeps the newest', () => {
  const ring = new LineRing('shop');
  for (let n = 0; n < 10; n++) ring.push(record(n), 4);
  for (let n = 10; n < 500; n++) ring.push(record(n), Infinity);
  const all = ring.take(Infinity);
  expect(all.map((r) => r[8])).toEqual([6, 7, 8, 9, ...Array.from({ length: 490 }, (_, k) => 10 + k)].map((n) => `id-${n}`));
  for (let n = 0; n < 600; n++) ring.push(record(n), Infinity);
  for (let n = 600; n < 610; n++) ring.push(record(n), 3);
  expect(ring.length).toBe(600);
  expect(ring.take(3).map((r) => r[8])).toEqual(['id-607', 'id-608', 'id-609']);
  for (let n = 0; n < 8; n++) ring.push(record(n), 3);
  expect(ring.take(3).map((r) => r[8])).toEqual(['id-5', 'id-6', 'id-7']);
});

test('long paths and ids, latin1 characters (as Node gives raw bytes), empty strings and upgrades survive whole', () => {
  const ring = new LineRing('shop');
  const long = `/${'x'.repeat(5000)}`;
  const records = [
    record(1, { path: long, id: 'i' }),
    record(2, { path: '/caf\u00e9/\u00ff', id: '\u00e9t\u00e9' }),
    record(3, { path: '/', id: '' }),
    record(4, { path: `/${'a'.repeat(127 - 36)}`, id: 'b'.repeat(36) }),
    record(5, { method: 'PROPFIND', upgrade: 1 }),
  ];
  for (const r of records) ring.push(r, 10);
  expect(ring.take(10)).toEqual(records);
});

test('a limit below one keeps nothing', () => {
  const ring = new LineRing('shop');
  ring.push(record(1), 0);
  expect(ring.length).toBe(0);
  expect(ring.take(0)).toEqual([]);
});
