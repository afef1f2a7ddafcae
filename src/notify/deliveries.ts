import type { DeliveryRecord, NotifierRecord, NotifierStore } from '../store/notifiers.js';
import { sign } from './format.js';

/** Five attempts in all: the first at once, then after each of these waits (× the base). */
const WAIT_FACTORS = [1, 5, 25, 125];
export const MAX_ATTEMPTS = WAIT_FACTORS.length + 1;
/** Finished deliveries kept per notifier for `notifiers:deliveries`. */
const KEEP_FINISHED = 100;
/** Deliveries sent at once; the rest wait for the next turn. */
const BATCH = 16;

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborted when the server stops: the delivery stays pending for the next start. */
  signal: AbortSignal;
}

/** Sends one request and resolves with the response's status; rejects when none came (refused, timed out). */
export type Send = (request: OutgoingRequest) => Promise<number>;

export interface DeliveryQueueDeps {
  store: NotifierStore;
  send: Send;
  /** One attempt's limit. */
  timeoutMs: number;
  /** The first wait before a retry; later ones are 5, 25 and 125 times it. */
  retryBaseMs: number;
  log: (line: string) => void;
  now?: () => number;
}

/**
 * Delivers queued notifications from the store, so that a restart loses none: each pending
 * delivery is sent when due, with a time limit, and retried with growing waits until it gets a
 * 2xx or has had its five attempts. Nothing here is awaited by a deployment.
 */
export class DeliveryQueue {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly inFlight = new Map<string, Promise<DeliveryRecord | undefined>>();
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(private readonly deps: DeliveryQueueDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Looks at the queue again: new deliveries, or the server started with some pending. */
  kick(): void {
    if (this.stopped) return;
    const due = this.deps.store.nextDueAt();
    if (due === null) return;
    const at = Math.max(due, this.now());
    if (this.timer && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.turn(), at - this.now());
  }

  /** Sends one delivery now (whatever its schedule) and resolves with its record after the attempt. */
  async sendNow(id: string): Promise<DeliveryRecord | undefined> {
    return this.inFlight.get(id) ?? this.attempt(id);
  }

  /** Stops scheduling and abandons the attempts under way: they stay pending, and the next start sends them. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort();
    await Promise.allSettled(this.inFlight.values());
  }

  private turn(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    const due = this.deps.store.due(this.now(), BATCH + this.inFlight.size).filter((d) => !this.inFlight.has(d.id));
    const batch = due.slice(0, BATCH);
    const settled = batch.map((d) => this.attempt(d.id));
    Promise.allSettled(settled).then(() => {
      this.deps.store.prune(KEEP_FINISHED);
      this.kick();
    });
    // More due than one batch: the next turn starts when this one is done.
  }

  private attempt(id: string): Promise<DeliveryRecord | undefined> {
    const run = (async () => {
      const delivery = this.deps.store.getDelivery(id);
      if (!delivery || delivery.state !== 'pending') return delivery;
      const notifier = this.notifierOf(delivery);
      if (!notifier) return undefined;
      let statusCode: number | null = null;
      let error: string | null = null;
      try {
        statusCode = await this.deps.send({
          url: notifier.url,
          headers: headers(notifier, delivery),
          body: delivery.body,
          timeoutMs: this.deps.timeoutMs,
          signal: this.stopping.signal,
        });
        if (statusCode < 200 || statusCode > 299) error = `the endpoint answered HTTP ${statusCode}`;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (this.stopped) return this.deps.store.getDelivery(id);
      const attempts = delivery.attempts + 1;
      if (error === null) {
        this.deps.store.recordAttempt(id, { state: 'delivered', statusCode, error: null, nextAttemptAt: null });
      } else if (attempts >= MAX_ATTEMPTS) {
        this.deps.store.recordAttempt(id, { state: 'failed', statusCode, error, nextAttemptAt: null });
        this.deps.log(`${delivery.app}: notifier ${notifier.id} gave up on ${delivery.event} delivery ${id} after ${attempts} attempts: ${error}`);
      } else {
        const wait = this.deps.retryBaseMs * WAIT_FACTORS[attempts - 1]!;
        this.deps.store.recordAttempt(id, { state: 'pending', statusCode, error, nextAttemptAt: this.now() + wait });
      }
      return this.deps.store.getDelivery(id);
    })().finally(() => {
      this.inFlight.delete(id);
      this.kick();
    });
    this.inFlight.set(id, run);
    return run;
  }

  private notifierOf(delivery: DeliveryRecord): NotifierRecord | undefined {
    return this.deps.store.get(delivery.app, delivery.notifier);
  }
}

function headers(notifier: NotifierRecord, delivery: DeliveryRecord): Record<string, string> {
  const base = {
    'content-type': 'application/json',
    'user-agent': 'Slipway-Notifier',
    'x-slipway-event': delivery.event,
    'x-slipway-delivery': delivery.id,
  };
  return notifier.format === 'json' ? { ...base, 'x-slipway-signature': sign(notifier.secret, delivery.body) } : base;
}

/** Node's fetch, bounded by the timeout; redirects are not followed (a 3xx is not a delivery). */
export const fetchSend: Send = async ({ url, headers, body, timeoutMs, signal }) => {
  let res: Response;
  try {
    const limit = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: limit });
  } catch (error) {
    throw new Error(describeFetchError(error, timeoutMs));
  }
  // The body is not needed; reading it frees the connection for reuse.
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
};

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  return e.cause?.message ?? e.cause?.code ?? e.message ?? String(error);
}
