/**
 * Per-app, per-minute request metrics: counts by status class, p50/p95/p99, bytes, and each
 * container's last CPU and memory sample. The open minute takes records as they come; when it
 * ends it becomes a summary, kept here for an hour and handed to `onClosed` (to be persisted).
 * Pure (the clock is given), so it is unit-tested on its own.
 */
import type { AppTraffic } from '../router/access.js';
import { STATUS_CLASSES, statusClass, type StatusClass } from './access-line.js';
import { LatencyHistogram } from './histogram.js';

export const MINUTE_MS = 60_000;
/** Minutes kept in memory: the last hour. */
export const MEMORY_MINUTES = 60;

export interface ContainerSample {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

export interface MinuteSummary {
  /** The minute's start, epoch milliseconds. */
  minute: number;
  requests: Record<StatusClass, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Body bytes sent to clients. */
  bytes: number;
  /** Each container's last sample in the minute, by name (`web-1`). */
  containers: Record<string, ContainerSample>;
}

class OpenMinute {
  readonly requests = emptyCounts();
  readonly latency = new LatencyHistogram();
  bytes = 0;
  readonly containers: Record<string, ContainerSample> = {};

  constructor(readonly minute: number) {}

  summary(): MinuteSummary {
    const { latency } = this;
    return {
      minute: this.minute,
      requests: { ...this.requests },
      p50Ms: latency.percentile(50),
      p95Ms: latency.percentile(95),
      p99Ms: latency.percentile(99),
      bytes: this.bytes,
      containers: { ...this.containers },
    };
  }
}

export class MinuteSeries {
  private readonly open = new Map<string, OpenMinute>();
  private readonly closed = new Map<string, MinuteSummary[]>();

  constructor(
    private readonly now: () => number,
    private readonly onClosed: (app: string, summary: MinuteSummary) => void = () => undefined,
  ) {}

  /** Requests as the router summed them; they count in the minute they arrive in. */
  addTraffic(traffic: readonly AppTraffic[]): void {
    const minute = this.currentMinute();
    for (const { app, statuses, durations, bytes } of traffic) {
      const open = this.openFor(app, minute);
      for (const status in statuses) open.requests[statusClass(Number(status))] += statuses[status]!;
      // Tunnels are not among them: a tunnel's duration is its connection's life, not a response time.
      for (const status in durations) for (const ms of durations[status]!) open.latency.record(ms);
      open.bytes += bytes;
    }
  }

  addSample(app: string, container: string, sample: ContainerSample): void {
    this.openFor(app, this.currentMinute()).containers[container] = sample;
  }

  /** Closes the minutes that have ended (a timer calls this every few seconds). */
  roll(): void {
    const minute = this.currentMinute();
    for (const [app, open] of this.open) if (open.minute < minute) this.close(app, open);
  }

  /** Summaries read back from the database when the server starts, oldest first. */
  restore(app: string, summaries: readonly MinuteSummary[]): void {
    const from = this.currentMinute() - MEMORY_MINUTES * MINUTE_MS;
    const kept = this.closed.get(app) ?? [];
    kept.push(...summaries.filter((s) => s.minute >= from && !kept.some((k) => k.minute === s.minute)));
    kept.sort((a, b) => a.minute - b.minute);
    this.closed.set(app, kept);
  }

  /**
   * The app's minutes from `fromMs` on, one per minute up to the current (partial) one, minutes
   * without data as zeros; `older` gives those before the hour kept here.
   */
  series(app: string, fromMs: number, older: (fromMinute: number, toMinute: number) => MinuteSummary[] = () => []): MinuteSummary[] {
    const current = this.currentMinute();
    const first = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
    const memoryFrom = current - MEMORY_MINUTES * MINUTE_MS;
    const known = new Map<number, MinuteSummary>();
    if (first < memoryFrom) for (const s of older(first, memoryFrom)) known.set(s.minute, s);
    for (const s of this.closed.get(app) ?? []) known.set(s.minute, s);
    const open = this.open.get(app);
    if (open !== undefined) known.set(open.minute, open.summary());
    const out: MinuteSummary[] = [];
    for (let m = first; m <= current; m += MINUTE_MS) out.push(known.get(m) ?? emptySummary(m));
    return out;
  }

  /** The minutes still open, as they are so far (saved when the server stops). */
  openSummaries(): { app: string; summary: MinuteSummary }[] {
    return [...this.open].map(([app, open]) => ({ app, summary: open.summary() }));
  }

  apps(): string[] {
    return [...new Set([...this.open.keys(), ...this.closed.keys()])];
  }

  forget(app: string): void {
    this.open.delete(app);
    this.closed.delete(app);
  }

  private currentMinute(): number {
    return Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
  }

  private openFor(app: string, minute: number): OpenMinute {
    let open = this.open.get(app);
    if (open !== undefined && open.minute < minute) {
      this.close(app, open);
      open = undefined;
    }
    if (open === undefined) this.open.set(app, (open = new OpenMinute(minute)));
    return open;
  }

  private close(app: string, open: OpenMinute): void {
    this.open.delete(app);
    const summary = open.summary();
    let kept = this.closed.get(app);
    if (kept === undefined) this.closed.set(app, (kept = []));
    kept.push(summary);
    const from = this.currentMinute() - MEMORY_MINUTES * MINUTE_MS;
    while (kept.length > 0 && kept[0]!.minute < from) kept.shift();
    this.onClosed(app, summary);
  }
}

function emptyCounts(): Record<StatusClass, number> {
  return Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as Record<StatusClass, number>;
}

export function emptySummary(minute: number): MinuteSummary {
  return { minute, requests: emptyCounts(), p50Ms: null, p95Ms: null, p99Ms: null, bytes: 0, containers: {} };
}
