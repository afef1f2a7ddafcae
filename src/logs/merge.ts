import { sanitizeLine } from '../deploy/log.js';
import type { LogEntry } from '../runtime/runtime.js';

/** The container a line came from, as the user names it. */
export interface LogSource {
  /** `web-1`, `worker-1`, `one-off-3` (the container's `slipway.container` label). */
  container: string;
  /** `web`, `worker`, `run` (the `slipway.type` label), null when missing. */
  type: string | null;
  deployment: number | null;
}

/** One line of an app's log, as the API sends it (one JSON object per line). */
export interface LogRecord extends LogSource {
  /** ISO 8601, UTC, milliseconds. */
  time: string;
  stream: LogEntry['stream'];
  line: string;
}

/** Which of the app's containers to read: `--type web`, `--ps web-1`, or all. */
export interface LogFilter {
  type?: string;
  ps?: string;
}

export function matchesFilter(source: LogSource, filter: LogFilter): boolean {
  return (filter.type === undefined || source.type === filter.type) && (filter.ps === undefined || source.container === filter.ps);
}

export function toRecord(source: LogSource, entry: LogEntry): LogRecord {
  const parsed = Date.parse(entry.time);
  return {
    time: Number.isNaN(parsed) ? entry.time : new Date(parsed).toISOString(),
    container: source.container,
    type: source.type,
    deployment: source.deployment,
    stream: entry.stream,
    line: sanitizeLine(entry.line),
  };
}

/**
 * Orders two engine times (RFC 3339, nanoseconds) exactly: milliseconds are not enough to order
 * the lines of two busy containers.
 */
export function compareLogTimes(a: string, b: string): number {
  const [aMs, aNanos] = timeKey(a);
  const [bMs, bNanos] = timeKey(b);
  return aMs - bMs || aNanos - bNanos;
}

function timeKey(time: string): [number, number] {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) return [Date.parse(time) || 0, 0];
  return [Date.parse(`${match[1]}${match[3]}`) || 0, Number((match[2] ?? '').padEnd(9, '0'))];
}

/**
 * Interleaves the containers' lines in time order and keeps the last `lines` of them. Lines
 * with the same time keep their container's order.
 */
export function mergeBacklog(containers: { source: LogSource; entries: LogEntry[] }[], lines: number): LogRecord[] {
  const all = containers.flatMap(({ source, entries }) => entries.map((entry) => ({ source, entry })));
  // Array.prototype.sort is stable, so equal times stay in the order each container printed them.
  all.sort((a, b) => compareLogTimes(a.entry.time, b.entry.time));
  return all.slice(Math.max(0, all.length - lines)).map(({ source, entry }) => toRecord(source, entry));
}
