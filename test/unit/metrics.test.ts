import { trafficOf, type AccessRecord } from '../../src/router/access.js';
import { AccessLog } from '../../src/metrics/access-log.js';
import { accessLine, statusClass } from '../../src/metrics/access-line.js';
import { LatencyHistogram } from '../../src/metrics/histogram.js';
import { MINUTE_MS, MinuteSeries, type MinuteSummary } from '../../src/metrics/minutes.js';
import { statsFrom } from '../../src/runtime/docker.js';
import { sparkline } from '../../src/cli/sparkline.js';
import { labelOfName } from '../../src/deploy/containers.js';

function record(
  app: string,
  status: number,
  durationMs: number,
  bytes = 10,
  extra: Partial<{ upgrade: 0 | 1; retries: number; path: string }> = {},
): AccessRecord {
  return [0, app, 'GET', extra.path ?? '/', status, durationMs, bytes, 'web-1', 'id-1', '127.0.0.1', extra.retries ?? 0, extra.upgrade ?? 0];
}

describe('LatencyHistogram', () => {
  test('percentiles of 1..1000 ms are within 5 % of the exact ones, and never above the slowest', () => {
    const h = new LatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) h.record(ms);
    for (const [p, exact] of [
      [50, 500],
      [95, 950],
      [99, 990],
    ] as const) {
      const got = h.percentile(p)!;
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(exact * 1.05);
    }
    expect(h.percentile(100)).toBe(1000);
    expect(h.count).toBe(1000);
  });

  test('no requests: no percentile; one request: its own duration', () => {
    const h = new LatencyHistogram();
    expect(h.percentile(50)).toBeNull();
    h.record(12.5);
    expect(h.percentile(50)).toBe(12.5);
    expect(h.percentile(99)).toBe(12.5);
  });

  test('a few slow requests among many fast ones move p99, not p50', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 97; i++) h.record(2);
    for (let i = 0; i < 3; i++) h.record(1500);
    expect(h.percentile(50)).toBeLessThanOrEqual(2.1);
    expect(h.percentile(95)).toBeLessThanOrEqual(2.1);
    expect(h.percentile(99)).toBeGreaterThanOrEqual(1500 * 0.95);
  });

  test('durations beyond the last bucket and below the first are counted', () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(1e12);
    expect(h.count).toBe(2);
    expect(h.percentile(100)).toBe(1e12);
    expect(h.percentile(50)).toBeLessThanOrEqual(0.01);
  });
});

describe('MinuteSeries', () => {
  test('requests count in the minute they arrive in, by status class; minutes close as the clock passes them', () => {
    let now = 10 * MINUTE_MS + 5_000;
    const closed: [string, MinuteSummary][] = [];
    const series = new MinuteSeries(
      () => now,
      (app, s) => closed.push([app, s]),
    );
    series.addTraffic(trafficOf([record('a', 200, 5), record('a', 200, 7), record('a', 503, 1), record('b', 404, 3), record('a', 0, 2)]));
    now += MINUTE_MS; // the next minute
    series.addTraffic(trafficOf([record('a', 301, 4, 100)]));
    series.roll();
    expect(closed.map(([app, s]) => [app, s.minute])).toEqual([
      ['a', 10 * MINUTE_MS],
      ['b', 10 * MINUTE_MS],
    ]);
    const [first, second] = series.series('a', 10 * MINUTE_MS);
    expect(first!.requests).toEqual({ '1xx': 0, '2xx': 2, '3xx': 0, '4xx': 0, '5xx': 1, none: 1 });
    expect(first!.bytes).toBe(40);
    expect(first!.p99Ms).toBe(7);
    expect(second!.requests['3xx']).toBe(1);
    expect(second!.minute).toBe(11 * MINUTE_MS);
  });

  test('minutes without requests are zeros; the series runs up to the current minute', () => {
    let now = 100 * MINUTE_MS;
    const series = new MinuteSeries(() => now);
    series.addTraffic(trafficOf([record('a', 200, 1)]));
    now += 3 * MINUTE_MS + 1;
    const out = series.series('a', now - 5 * MINUTE_MS);
    expect(out.map((m) => (m.minute - 100 * MINUTE_MS) / MINUTE_MS)).toEqual([-2, -1, 0, 1, 2, 3]);
    expect(out.map((m) => m.requests['2xx'])).toEqual([0, 0, 1, 0, 0, 0]);
    expect(out[3]!.p50Ms).toBeNull();
  });

  test('an hour is kept in memory; older minutes come from `older`', () => {
    let now = 0;
    const series = new MinuteSeries(() => now);
    for (let m = 0; m < 90; m++) {
      now = m * MINUTE_MS;
      series.addTraffic(trafficOf([record('a', 200, 1)]));
    }
    series.roll();
    const asked: [number, number][] = [];
    const older = (from: number, to: number): MinuteSummary[] => {
      asked.push([from, to]);
      return [];
    };
    const all = series.series('a', 0, older);
    expect(all).toHaveLength(90);
    // Minutes 0..28 are no longer in memory (asked of `older`, which has none here).
    expect(asked).toEqual([[0, 29 * MINUTE_MS]]);
    expect(all.filter((m) => m.requests['2xx'] === 1)).toHaveLength(61);
  });

  test('a tunnel counts as a request but not in the latency percentiles; container samples are the last of the minute', () => {
    const series = new MinuteSeries(() => 0);
    series.addTraffic(trafficOf([record('a', 101, 60_000, 5, { upgrade: 1 }), record('a', 200, 3)]));
    series.addSample('a', 'web-1', { cpuPercent: 1, memoryBytes: 10, memoryLimitBytes: 100 });
    series.addSample('a', 'web-1', { cpuPercent: 2, memoryBytes: 20, memoryLimitBytes: 100 });
    const [m] = series.series('a', 0);
    expect(m!.requests['1xx']).toBe(1);
    expect(m!.p99Ms).toBe(3);
    expect(m!.containers).toEqual({ 'web-1': { cpuPercent: 2, memoryBytes: 20, memoryLimitBytes: 100 } });
  });

  test('restored minutes (from the database) show again after a restart', () => {
    const now = 50 * MINUTE_MS;
    const series = new MinuteSeries(() => now);
    const kept: MinuteSummary = {
      minute: 48 * MINUTE_MS,
      requests: { '1xx': 0, '2xx': 9, '3xx': 0, '4xx': 0, '5xx': 1, none: 0 },
      p50Ms: 1,
      p95Ms: 2,
      p99Ms: 3,
      bytes: 9,
      containers: {},
    };
    series.restore('a', [kept]);
    expect(series.series('a', 48 * MINUTE_MS)[0]).toEqual(kept);
  });
});

describe('AccessLog: a bounded store per app', () => {
  test('keeps the last `limit` lines of each app, whatever the others do', () => {
    const log = new AccessLog(100);
    for (let i = 0; i < 1000; i++) log.add([record('busy', 200, 1, i)]);
    log.add([record('quiet', 200, 1, 7)]);
    const tail = log.tail('busy', 10_000);
    expect(tail).toHaveLength(100);
    expect(tail.map((r) => r[6])).toEqual(Array.from({ length: 100 }, (_x, i) => 900 + i));
    expect(log.tail('busy', 3).map((r) => r[6])).toEqual([997, 998, 999]);
    expect(log.tail('quiet', 10)).toHaveLength(1);
  });

  test("followers get each new line of their app only, until they stop; a forgotten app's lines go", () => {
    const log = new AccessLog(10);
    const seen: number[] = [];
    const stop = log.follow('a', (r) => seen.push(r[6]));
    log.add([record('a', 200, 1, 1), record('b', 200, 1, 2), record('a', 200, 1, 3)]);
    stop();
    log.add([record('a', 200, 1, 4)]);
    expect(seen).toEqual([1, 3]);
    log.forget('a');
    expect(log.tail('a', 10)).toEqual([]);
  });

  test('the set of followed apps is told when it changes (the router then sends their every line)', () => {
    const told: string[][] = [];
    const log = new AccessLog(10, (apps) => told.push(apps));
    const stopA1 = log.follow('a', () => undefined);
    const stopA2 = log.follow('a', () => undefined);
    const stopB = log.follow('b', () => undefined);
    stopA1();
    stopA2();
    stopA2();
    stopB();
    expect(told).toEqual([['a'], ['a', 'b'], ['b'], []]);
  });
});

describe('access lines', () => {
  test('key=value like Heroku: the path quoted, retries and upgrades only when there are some', () => {
    expect(accessLine([0, 'a', 'GET', '/x y', 200, 1.5, 12, 'web-1', 'r1', '10.0.0.1', 0, 0])).toBe(
      'method=GET path="/x y" status=200 duration=1.5ms bytes=12 container=web-1 request_id=r1 client=10.0.0.1',
    );
    expect(accessLine([0, 'a', 'GET', '/', 503, 0.2, 90, '', 'r2', '::1', 2, 0])).toBe(
      'method=GET path="/" status=503 duration=0.2ms bytes=90 container=- request_id=r2 client=::1 retries=2',
    );
    expect(accessLine([0, 'a', 'GET', '/ws', 101, 900, 40, 'web-2', 'r3', '::1', 0, 1])).toContain(' upgrade=1');
  });

  test('status classes', () => {
    expect([101, 200, 204, 302, 404, 502, 0, 700].map(statusClass)).toEqual(['1xx', '2xx', '2xx', '3xx', '4xx', '5xx', 'none', 'none']);
  });
});

describe("statsFrom: the engine's stats as docker stats shows them", () => {
  test('memory without the inactive page cache (cgroup v2), CPU % of one core over the sample', () => {
    expect(
      statsFrom({
        cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
        precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 16_000_000_000 },
        memory_stats: { usage: 60 * 2 ** 20, limit: 2 ** 30, stats: { inactive_file: 10 * 2 ** 20 } },
      }),
    ).toEqual({ cpuPercent: 50, memoryBytes: 50 * 2 ** 20, memoryLimitBytes: 2 ** 30 });
  });

  test('cgroup v1 names the cache total_inactive_file; a stopped container has no usage', () => {
    expect(statsFrom({ memory_stats: { usage: 100, limit: 1000, stats: { total_inactive_file: 40 } } })).toMatchObject({ memoryBytes: 60, cpuPercent: 0 });
    expect(statsFrom({ memory_stats: {} })).toBeNull();
  });
});

test('sparkline: one bar per value, scaled to the largest; no data is a space', () => {
  expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
  expect(sparkline([null, 0, 0])).toBe(' ▁▁');
  expect(sparkline([10, null, 5])).toBe('█ ▅');
});

test("labelOfName: a process container's engine name as users know it", () => {
  expect(labelOfName('shop', 'slipway-shop-12-web-1')).toBe('web-1');
  expect(labelOfName('shop', 'slipway-shop-12-web-2-r1a2b')).toBe('web-2');
  expect(labelOfName('my-app-2', 'slipway-my-app-2-3-worker-10')).toBe('worker-10');
  expect(labelOfName('shop', 'other')).toBe('other');
});
