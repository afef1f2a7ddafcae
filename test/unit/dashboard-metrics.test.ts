import {
  classCounts,
  formatBytes,
  formatMs,
  formatPercent,
  groupMinutes,
  linePath,
  type MetricsMinute,
  scaleMax,
  summarize,
} from '../../src/dashboard/src/metrics-data.js';

const T0 = Date.UTC(2026, 10, 30, 6, 0);

function minute(i: number, fields: Partial<MetricsMinute> = {}): MetricsMinute {
  return { minute: T0 + i * 60_000, requests: {}, p50Ms: null, p95Ms: null, p99Ms: null, bytes: 0, containers: {}, ...fields };
}

const sample = (cpuPercent: number, memoryBytes: number) => ({ cpuPercent, memoryBytes, memoryLimitBytes: 512 * 2 ** 20 });

describe('summarize', () => {
  test('adds the requests by class over the window, 1xx and unanswered as other', () => {
    const s = summarize([
      minute(0, { requests: { '2xx': 7, '5xx': 3, none: 1 }, bytes: 100 }),
      minute(1),
      minute(2, { requests: { '2xx': 2, '1xx': 1, '4xx': 4 }, bytes: 50 }),
    ]);
    expect(s.requests).toBe(18);
    expect(s.byClass).toEqual({ '2xx': 9, '3xx': 0, '4xx': 4, '5xx': 3, other: 2 });
    expect(s.bytes).toBe(150);
  });

  test("latency is the latest minute with requests (not the empty current one); worst p99 the slowest minute's", () => {
    const s = summarize([
      minute(0, { requests: { '2xx': 1 }, p50Ms: 2, p95Ms: 40, p99Ms: 90 }),
      minute(1, { requests: { '2xx': 1 }, p50Ms: 1, p95Ms: 3, p99Ms: 5 }),
      minute(2),
    ]);
    expect(s.latest).toEqual({ minute: T0 + 60_000, p50Ms: 1, p95Ms: 3, p99Ms: 5 });
    expect(s.worstP99Ms).toBe(90);
  });

  test('no requests: zeros, no latency', () => {
    const s = summarize([minute(0), minute(1)]);
    expect(s).toMatchObject({ requests: 0, bytes: 0, latest: null, worstP99Ms: null, containers: [] });
  });

  test("each container's latest sample, though the current minute has none yet; series with gaps; web-2 before web-10", () => {
    const s = summarize([
      minute(0, { containers: { 'web-10': sample(1, 10), 'web-2': sample(5, 20) } }),
      minute(1, { containers: { 'web-2': sample(6, 30) } }),
      minute(2),
    ]);
    expect(s.containers.map((c) => c.name)).toEqual(['web-2', 'web-10']);
    expect(s.containers[0]).toEqual({ name: 'web-2', last: sample(6, 30), cpu: [5, 6, null], memory: [20, 30, null] });
    expect(s.containers[1]!.last).toEqual(sample(1, 10));
  });
});

describe('groupMinutes', () => {
  test('leaves a window that fits as it is', () => {
    const minutes = [minute(0), minute(1)];
    expect(groupMinutes(minutes, 120)).toEqual(minutes);
  });

  test('groups consecutive minutes: counts and bytes add up, latency and samples keep the highest', () => {
    const grouped = groupMinutes(
      [
        minute(0, { requests: { '2xx': 1 }, p99Ms: 10, bytes: 5, containers: { 'web-1': sample(50, 100) } }),
        minute(1, { requests: { '2xx': 2, '5xx': 1 }, p99Ms: 30, bytes: 7, containers: { 'web-1': sample(20, 300) } }),
        minute(2, { requests: { '4xx': 1 }, p50Ms: 4 }),
        minute(3),
        minute(4, { bytes: 1 }),
      ],
      2,
    );
    expect(grouped).toHaveLength(2);
    expect(grouped[0]).toEqual({
      minute: T0,
      requests: { '2xx': 3, '5xx': 1, '4xx': 1 },
      p50Ms: 4,
      p95Ms: null,
      p99Ms: 30,
      bytes: 12,
      containers: { 'web-1': sample(50, 300) },
    });
    expect(grouped[1]).toMatchObject({ minute: T0 + 3 * 60_000, bytes: 1, requests: {} });
    // 24 hours of minutes and one open minute fit in 120 bars.
    expect(
      groupMinutes(
        Array.from({ length: 1441 }, (_, i) => minute(i)),
        120,
      ).length,
    ).toBeLessThanOrEqual(120);
  });
});

describe('formatting', () => {
  test.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [48 * 2 ** 20, '48.0 MiB'],
    [1.2 * 2 ** 30, '1.20 GiB'],
  ])('formatBytes(%p) is %p', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  test.each([
    [null, '—'],
    [0.4213, '0.42 ms'],
    [12.44, '12.4 ms'],
    [312.6, '313 ms'],
    [1500, '1.50 s'],
  ])('formatMs(%p) is %p', (ms, text) => expect(formatMs(ms)).toBe(text));

  test('formatPercent keeps a decimal below 10 %', () => {
    expect(formatPercent(0.04)).toBe('0.0 %');
    expect(formatPercent(3.25)).toBe('3.3 %');
    expect(formatPercent(143.4)).toBe('143 %');
  });

  test('classCounts reads missing classes as zero', () => {
    expect(classCounts({ '3xx': 2 })).toEqual({ '2xx': 0, '3xx': 2, '4xx': 0, '5xx': 0, other: 0 });
  });
});

describe('linePath', () => {
  test('spans the width, 0 at the bottom and max at the top', () => {
    expect(linePath([0, 5, 10], 100, 20, 10)).toBe('M0 20L50 10L100 0');
  });

  test('a null breaks the line; a lone point is a short dash', () => {
    expect(linePath([1, 1, null, 2, null], 100, 10, 2)).toBe('M0 5L25 5M74 0h2');
  });

  test('values above max stay in the box; nothing to draw is an empty path', () => {
    expect(linePath([4], 10, 10, 2)).toBe('M0 0h2');
    expect(linePath([], 10, 10, 2)).toBe('');
    expect(linePath([null, null], 10, 10, 2)).toBe('');
  });

  test('scaleMax is the highest value, at least the floor', () => {
    expect(scaleMax([[1, null, 7], [3]])).toBe(7);
    expect(scaleMax([[0, null]])).toBe(1);
    expect(scaleMax([[0.2]], 0)).toBe(0.2);
  });
});
