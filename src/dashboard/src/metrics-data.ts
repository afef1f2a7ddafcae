/**
 * The metrics view's numbers: what `GET /api/apps/<app>/metrics` answers, summed up for the text
 * beside the charts, grouped into at most a chart's worth of bars, and formatted. Pure (no DOM,
 * no imports), so it is unit-tested on its own.
 */

export interface ContainerSample {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

/** One minute as the API sends it (src/metrics/minutes.ts MinuteSummary). */
export interface MetricsMinute {
  minute: number;
  requests: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  bytes: number;
  containers: Record<string, ContainerSample>;
}

export interface MetricsJson {
  app: string;
  since: string;
  minutes: MetricsMinute[];
}

/** The windows offered (the API takes any `30m`/`6h` up to 64h; these are the useful ones). */
export const WINDOWS = [
  { since: '15m', label: '15 minutes', phrase: 'the last 15 minutes', refreshMs: 5_000 },
  { since: '1h', label: '1 hour', phrase: 'the last hour', refreshMs: 5_000 },
  { since: '6h', label: '6 hours', phrase: 'the last 6 hours', refreshMs: 15_000 },
  { since: '24h', label: '24 hours', phrase: 'the last 24 hours', refreshMs: 60_000 },
] as const;

export type Since = (typeof WINDOWS)[number]['since'];

/** Status classes as shown: 1xx and unanswered requests (`none`) together as `other`. */
export const CLASSES = ['2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type ShownClass = (typeof CLASSES)[number];

export function classCounts(requests: Record<string, number>): Record<ShownClass, number> {
  const n = (k: string): number => requests[k] ?? 0;
  return { '2xx': n('2xx'), '3xx': n('3xx'), '4xx': n('4xx'), '5xx': n('5xx'), other: n('1xx') + n('none') };
}

export function requestTotal(requests: Record<string, number>): number {
  return Object.values(requests).reduce((a, b) => a + b, 0);
}

export interface ContainerSeries {
  name: string;
  /** The latest sample in the window (the current minute may have none yet). */
  last: ContainerSample;
  cpu: (number | null)[];
  memory: (number | null)[];
}

export interface MetricsSummary {
  requests: number;
  byClass: Record<ShownClass, number>;
  bytes: number;
  /** The latest minute that had requests, and its percentiles (null: none in the window). */
  latest: { minute: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null } | null;
  /** The slowest minute's p99 in the window. */
  worstP99Ms: number | null;
  containers: ContainerSeries[];
}

export function summarize(minutes: readonly MetricsMinute[]): MetricsSummary {
  const byClass = classCounts({});
  let requests = 0;
  let bytes = 0;
  let latest: MetricsSummary['latest'] = null;
  let worstP99Ms: number | null = null;
  for (const m of minutes) {
    const counts = classCounts(m.requests);
    for (const c of CLASSES) byClass[c] += counts[c];
    const total = requestTotal(m.requests);
    requests += total;
    bytes += m.bytes;
    if (total > 0) latest = { minute: m.minute, p50Ms: m.p50Ms, p95Ms: m.p95Ms, p99Ms: m.p99Ms };
    if (m.p99Ms !== null) worstP99Ms = Math.max(worstP99Ms ?? 0, m.p99Ms);
  }
  const names = [...new Set(minutes.flatMap((m) => Object.keys(m.containers)))].sort(byContainerName);
  const containers = names.map((name): ContainerSeries => {
    const samples = minutes.map((m) => m.containers[name] ?? null);
    const last = [...samples].reverse().find((s): s is ContainerSample => s !== null)!;
    return { name, last, cpu: samples.map((s) => s?.cpuPercent ?? null), memory: samples.map((s) => s?.memoryBytes ?? null) };
  });
  return { requests, byClass, bytes, latest, worstP99Ms, containers };
}

/** web-2 before web-10. */
function byContainerName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Consecutive minutes grouped so a chart has at most `max` bars (24 h of minutes would be 1440):
 * counts and bytes add up, latency and samples keep the group's highest (percentiles of
 * different minutes cannot be merged; the worst minute is what one looks for).
 */
export function groupMinutes(minutes: readonly MetricsMinute[], max: number): MetricsMinute[] {
  const size = Math.max(1, Math.ceil(minutes.length / Math.max(1, max)));
  if (size === 1) return [...minutes];
  const out: MetricsMinute[] = [];
  for (let i = 0; i < minutes.length; i += size) {
    const group = minutes.slice(i, i + size);
    const requests: Record<string, number> = {};
    const containers: Record<string, ContainerSample> = {};
    for (const m of group) {
      for (const [k, v] of Object.entries(m.requests)) requests[k] = (requests[k] ?? 0) + v;
      for (const [name, s] of Object.entries(m.containers)) {
        const seen = containers[name];
        containers[name] = seen
          ? {
              cpuPercent: Math.max(seen.cpuPercent, s.cpuPercent),
              memoryBytes: Math.max(seen.memoryBytes, s.memoryBytes),
              memoryLimitBytes: s.memoryLimitBytes,
            }
          : s;
      }
    }
    out.push({
      minute: group[0]!.minute,
      requests,
      p50Ms: highest(group.map((m) => m.p50Ms)),
      p95Ms: highest(group.map((m) => m.p95Ms)),
      p99Ms: highest(group.map((m) => m.p99Ms)),
      bytes: group.reduce((a, m) => a + m.bytes, 0),
      containers,
    });
  }
  return out;
}

function highest(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

/** 512 B, 1.5 KiB, 61.3 MiB, 1.20 GiB (powers of 1024, as the CLI and the engine count memory). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** 0.42 ms, 12.4 ms, 312 ms, 1.50 s; — when there is no value. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 100) return `${Number(ms.toFixed(ms < 1 ? 2 : 1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatPercent(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} %`;
}

/**
 * An SVG path through `values` on a `width`×`height` box, x evenly spaced, 0 at the bottom and
 * `max` at the top; a null breaks the line (no data that minute), and a lone point is drawn as a
 * short dash so it shows.
 */
export function linePath(values: readonly (number | null)[], width: number, height: number, max: number): string {
  if (values.length === 0) return '';
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const y = (v: number): number => round(height - (max > 0 ? Math.min(v, max) / max : 0) * height);
  const parts: string[] = [];
  let open = false;
  values.forEach((v, i) => {
    if (v === null) {
      open = false;
      return;
    }
    const x = round(i * step);
    const next = values[i + 1];
    if (!open && (next === null || next === undefined)) {
      parts.push(`M${round(Math.max(0, x - 1))} ${y(v)}h2`);
      return;
    }
    parts.push(`${open ? 'L' : 'M'}${x} ${y(v)}`);
    open = true;
  });
  return parts.join('');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The highest of the series, at least `floor` (so a flat zero line stays at the bottom). */
export function scaleMax(series: readonly (readonly (number | null)[])[], floor = 1): number {
  let max = floor;
  for (const values of series) for (const v of values) if (v !== null && v > max) max = v;
  return max;
}
