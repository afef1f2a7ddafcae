/**
 * The router's half of access logs and request metrics: a Sink that notes what one request's
 * answer was (status, bytes, duration, the container that gave it, retries) as it goes to the
 * client, and a batcher that hands the records on a few times a second, off the hot path.
 * Everything else (per-app store, minutes, percentiles, Prometheus) is the server's (src/metrics).
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RouteTarget } from '../store/store.js';
import { LineRing } from './line-ring.js';
import type { Incoming } from './request-head.js';
import type { Sink } from './response.js';

/**
 * One request through the router. A tuple rather than an object: thousands cross the channel
 * each second, and a tuple's JSON is a third of the size.
 */
export type AccessRecord = [
  /** When the router took the request, epoch milliseconds. */
  time: number,
  app: string,
  method: string,
  /** The request target, without its query string unless the router keeps it. */
  path: string,
  /** 0 when the connection closed before any answer. */
  status: number,
  durationMs: number,
  /** Body bytes sent to the client (for a tunnel: bytes from the app). */
  bytes: number,
  /** The container that answered; '' for the router's own answers (maintenance, not running). */
  container: string,
  requestId: string,
  client: string,
  /** Attempts after the first (a refused connection, a pooled connection closed by the app). */
  retries: number,
  /** 1 for an upgraded connection (WebSocket): its duration is the tunnel's whole life. */
  upgrade: 0 | 1,
];

/** Where a finished request's record goes. */
export interface AccessRecorder {
  /** Keep the query string in the path (off by default: queries carry tokens and personal data). */
  readonly keepQuery: boolean;
  add(record: AccessRecord): void;
  /** The apps whose every line is wanted (someone follows their access log), replacing the last set. */
  follow(apps: readonly string[]): void;
  /** Sends what it holds now: the sums and every app's lines. */
  flush(): void;
}

/**
 * The response of one request, measured on its way to the client. The router wraps a request's
 * Sink in one when it first routes it; retries reuse it, so one request is one record.
 */
export class MeteredSink implements Sink {
  readonly tunnel?: (upstream: net.Socket, bytes: Buffer, target: RouteTarget) => void;
  private readonly time = Date.now();
  private readonly started = performance.now();
  private status = 0;
  private bytes = 0;
  private container = '';
  private attempts = 0;
  private finished = false;

  constructor(
    private readonly inner: Sink,
    private readonly app: string,
    private readonly incoming: Incoming,
    private readonly recorder: AccessRecorder,
  ) {
    const tunnel = inner.tunnel;
    if (tunnel !== undefined) {
      this.tunnel = (upstream, bytes, target) => {
        this.status = 101;
        this.container = target.container;
        // The tunnel's record is written when it closes: its duration is the connection's life.
        upstream.once('close', () => this.finish(upstream.bytesRead, 1));
        tunnel(upstream, bytes, target);
      };
    }
  }

  /** The request goes to `target` (again, for a retry). */
  attempt(target: RouteTarget): void {
    this.attempts++;
    this.container = target.container;
  }

  get headersSent(): boolean {
    return this.inner.headersSent;
  }

  get writableLength(): number {
    return this.inner.writableLength;
  }

  writeHead(status: number, headers: string[]): unknown {
    this.status = status;
    return this.inner.writeHead(status, headers);
  }

  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return this.inner.write(chunk);
  }

  end(chunk?: Buffer | string): unknown {
    if (chunk !== undefined) this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    // First: ending may start the client's next request at once (the fast path).
    this.finish(this.bytes, 0);
    return this.inner.end(chunk);
  }

  destroy(): unknown {
    this.finish(this.bytes, 0);
    return this.inner.destroy();
  }

  once(event: 'drain', listener: () => void): unknown {
    return this.inner.once(event, listener);
  }

  private finish(bytes: number, upgrade: 0 | 1): void {
    if (this.finished) return;
    this.finished = true;
    const { incoming } = this;
    let path = incoming.url;
    if (!this.recorder.keepQuery) {
      const q = path.indexOf('?');
      if (q !== -1) path = path.slice(0, q);
    }
    const duration = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.recorder.add([
      this.time,
      this.app,
      incoming.method,
      path,
      this.status,
      duration,
      bytes,
      this.container,
      incoming.requestId,
      incoming.client,
      Math.max(0, this.attempts - 1),
      upgrade,
    ]);
  }
}

/**
 * One app's requests over one window, as the router sends them on: sums for the metrics, and
 * lines for the access log. Summed here, in the router, so that what crosses to the server (and
 * what the server works through) grows with the lines it keeps, not with the requests served.
 */
export interface AppTraffic {
  app: string;
  /** Requests by status (`0`: closed before any answer), e.g. `{ "200": 950, "502": 1 }`. */
  statuses: Record<string, number>;
  /** Response times in ms of the requests that were not tunnels, by status. */
  durations: Record<string, number[]>;
  /** Body bytes sent to clients. */
  bytes: number;
  /** Attempts after the first, summed. */
  retries: number;
  /** Access lines, oldest first: the window's last `lines` (all of them for an app someone follows). */
  lines: AccessRecord[];
}

/** One app's window: sums since the last send, and the lines kept since their last send. */
class AppWindow {
  requests = 0;
  statuses: Record<string, number> = {};
  durations: Record<string, number[]> = {};
  bytes = 0;
  retries = 0;
  readonly lines: LineRing;

  constructor(app: string) {
    this.lines = new LineRing(app);
  }

  count(record: AccessRecord): void {
    const status = record[4];
    this.requests++;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    // A tunnel's duration is its connection's life, not a response time.
    if (record[11] === 0) (this.durations[status] ??= []).push(record[5]);
    this.bytes += record[6];
    this.retries += record[10];
  }

  /** The sums so far, started again from zero. */
  takeSums(): Pick<AppTraffic, 'statuses' | 'durations' | 'bytes' | 'retries'> {
    const sums = { statuses: this.statuses, durations: this.durations, bytes: this.bytes, retries: this.retries };
    this.requests = 0;
    this.statuses = {};
    this.durations = {};
    this.bytes = 0;
    this.retries = 0;
    return sums;
  }

  get empty(): boolean {
    return this.requests === 0 && this.lines.length === 0;
  }
}

/** How often sums (and the lines of followed apps) are sent. */
const TICK_MS = 250;
/**
 * Lines of apps nobody follows go every this many ticks (10 s), and whenever the server asks
 * (`send-lines`: someone reads them). Between two sends the router keeps an app's latest
 * `lineLimit` lines (all the server keeps), so a busy app costs the same whatever its rate: sent
 * every second, 2 000 lines a second made the server parse and store as many, which took more CPU
 * on this machine's two cores than the rest of the metrics together.
 */
const LINE_TICKS = 40;

/**
 * Sums records per app and sends them on a timer: every tick the sums and the lines of followed
 * apps, every LINE_TICKS ticks (or on `flush`) the latest `lineLimit` lines of the others. `send` must not
 * throw; what it cannot deliver (no server connected) is dropped: the router serves on regardless.
 */
export class AccessBatcher implements AccessRecorder {
  private readonly windows = new Map<string, AppWindow>();
  private followed: ReadonlySet<string> = new Set();
  private ticks = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly send: (traffic: AppTraffic[]) => void,
    readonly keepQuery: boolean,
    private readonly lineLimit: number,
    tickMs = TICK_MS,
  ) {
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  add(record: AccessRecord): void {
    const app = record[1];
    let window = this.windows.get(app);
    if (window === undefined) this.windows.set(app, (window = new AppWindow(app)));
    window.count(record);
    window.lines.push(record, this.followed.has(app) ? Infinity : this.lineLimit);
  }

  /** The apps whose every line is wanted (someone follows their access log), replacing the last set. */
  follow(apps: readonly string[]): void {
    this.followed = new Set(apps);
  }

  tick(): void {
    this.ticks = (this.ticks + 1) % LINE_TICKS;
    this.flush(this.ticks === 0);
  }

  /** Sends the sums, and the lines of followed apps, or of every app with `allLines`. */
  flush(allLines = true): void {
    const traffic: AppTraffic[] = [];
    for (const [app, window] of this.windows) {
      const followed = this.followed.has(app);
      const lines = allLines || followed ? window.lines.take(followed ? Infinity : this.lineLimit) : [];
      if (window.requests > 0 || lines.length > 0) traffic.push({ app, ...window.takeSums(), lines });
      if (window.empty) this.windows.delete(app);
    }
    if (traffic.length > 0) this.send(traffic);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Records summed as the router sends them, every line kept (for tests and tools). */
export function trafficOf(records: readonly AccessRecord[]): AppTraffic[] {
  const out: AppTraffic[] = [];
  const batcher = new AccessBatcher((traffic) => out.push(...traffic), false, Infinity, 60_000);
  for (const record of records) batcher.add(record);
  batcher.close();
  return out;
}

/** The router's access-log settings, as the router process passes them to its workers. */
export interface AccessOptions {
  keepQuery: boolean;
  /** An app's latest lines the server keeps: the most the router sends of an app per second. */
  lines: number;
}
