/**
 * The router's half of access logs and request metrics: a Sink that notes what one request's
 * answer was (status, bytes, duration, the container that gave it, retries) as it goes to the
 * client, and a batcher that hands the records on a few times a second, off the hot path.
 * Everything else (per-app store, minutes, percentiles, Prometheus) is the server's (src/metrics).
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RouteTarget } from '../store/store.js';
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

/** Records wait at most this long before they are sent on. */
const FLUSH_MS = 250;
/** A batch this large goes at once (bounded messages, however busy the router). */
const MAX_BATCH = 2000;

/**
 * Collects records and sends them in batches: a timer flushes a few times a second, a full batch
 * goes at once. `send` must not throw; what it cannot deliver (no server connected) is dropped:
 * the router serves on regardless.
 */
export class AccessBatcher implements AccessRecorder {
  private batch: AccessRecord[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly send: (records: AccessRecord[]) => void,
    readonly keepQuery: boolean,
    flushMs = FLUSH_MS,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  add(record: AccessRecord): void {
    this.batch.push(record);
    if (this.batch.length >= MAX_BATCH) this.flush();
  }

  flush(): void {
    if (this.batch.length === 0) return;
    const records = this.batch;
    this.batch = [];
    this.send(records);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** The router's access-log settings, as the router process passes them to its workers. */
export interface AccessOptions {
  keepQuery: boolean;
}
