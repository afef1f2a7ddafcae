import type { CertificateIssuer, IssuedCertificate } from './acme-issuer.js';
import { renewalDue, retryDelay } from './acme-timing.js';

/** A host name that is to have an automatic certificate, and the app it belongs to. */
export interface WantedName {
  app: string;
  domain: string;
}

/** What the manager needs of the certificate store (the one owner of stored certificates). */
export interface AutoCertificateStore {
  /** The certificate stored for exactly this name: where it came from and when it expires. */
  find(domain: string): { source: 'auto' | 'uploaded'; notAfter: number } | undefined;
  /** Stores an issued certificate as the name's automatic one, and has the routers serve it. */
  saveAuto(app: string, domain: string, certificate: IssuedCertificate): Promise<void>;
  /** Forgets the name's automatic certificate, if it has one (an uploaded one stays). */
  removeAuto(domain: string): Promise<void>;
}

/** What `slipway certs` shows of a name's automatic certificate. */
export interface AutoStatus {
  /** `ordering`: an order is under way; `failed`: the last order failed and is tried again at `nextAttemptAt`. */
  state: 'ordering' | 'issued' | 'failed' | 'uploaded';
  /** The last failure's reason, in the ACME server's words where it gave some. */
  lastError: string | null;
  lastErrorAt: number | null;
  nextAttemptAt: number | null;
  failures: number;
}

/** A name's failed orders in a row, as kept across restarts (else a crash loop would order at every start). */
export interface AcmeFailure {
  app: string;
  failures: number;
  lastError: string;
  lastErrorAt: number;
  nextAttemptAt: number;
}

/** Where the failures are kept (the store's acme_failures table); the manager is their one writer. */
export interface AcmeFailureLog {
  get(domain: string): AcmeFailure | undefined;
  put(domain: string, failure: AcmeFailure): void;
  clear(domain: string): void;
}

/** Failures kept in memory only (tests that do not restart). */
export function memoryFailureLog(): AcmeFailureLog {
  const kept = new Map<string, AcmeFailure>();
  return {
    get: (domain) => kept.get(domain),
    put: (domain, failure) => void kept.set(domain, failure),
    clear: (domain) => void kept.delete(domain),
  };
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface AcmeManagerDeps {
  issuer: CertificateIssuer;
  certificates: AutoCertificateStore;
  /** Failed orders, kept across restarts: the backoff and the last error outlive the process. */
  failures: AcmeFailureLog;
  /** The apps with certs:auto on. */
  enabledApps(): string[];
  /** The names of an app that automatic certificates are for (acme-names.ts). */
  namesOf(app: string): string[];
  renewBeforeMs: number;
  checkIntervalMs: number;
  retryBaseMs: number;
  log(line: string): void;
  now?: () => number;
  timers?: Timers;
}

interface Tracked extends WantedName {
  ordering: Promise<void> | undefined;
  failures: number;
  lastError: string | null;
  lastErrorAt: number | null;
  nextAttemptAt: number | null;
  retry: unknown;
}

/**
 * The one owner of automatic certificates' state: which names are followed, which order runs,
 * what the last failure said and when the next attempt is. Each name is ordered on its own, so a
 * failing or slow name holds up no other, and nothing here is awaited by a deploy.
 */
export class AcmeManager {
  private readonly tracked = new Map<string, Tracked>();
  private readonly now: () => number;
  private readonly timers: Timers;
  private checkTimer: unknown;
  /** Nothing is ordered before start (the routers must be able to answer challenges) nor after stop. */
  private running = false;

  constructor(private readonly deps: AcmeManagerDeps) {
    this.now = deps.now ?? Date.now;
    this.timers = deps.timers ?? realTimers;
  }

  /** Follows the wanted names and orders what is missing or due, now and every check interval. */
  start(): void {
    this.running = true;
    this.reconcile();
    const tick = (): void => {
      this.check();
      this.checkTimer = this.timers.set(tick, this.deps.checkIntervalMs);
    };
    this.checkTimer = this.timers.set(tick, this.deps.checkIntervalMs);
  }

  /** Stops ordering; an order under way finishes but its certificate is not stored. */
  stop(): void {
    this.running = false;
    if (this.checkTimer !== undefined) this.timers.clear(this.checkTimer);
    for (const t of this.tracked.values()) if (t.retry !== undefined) this.timers.clear(t.retry);
    this.tracked.clear();
  }

  /**
   * Follows names that became wanted (ordering their certificate when missing or due) and lets
   * go of names that no longer are (their automatic certificate is removed: nothing renews it).
   */
  reconcile(): void {
    if (!this.running) return;
    const wanted = new Map(this.deps.enabledApps().flatMap((app) => this.deps.namesOf(app).map((domain): [string, WantedName] => [domain, { app, domain }])));
    for (const [domain, t] of this.tracked) {
      if (wanted.get(domain)?.app === t.app) continue;
      this.untrack(t);
      this.deps.failures.clear(domain);
      this.deps.certificates
        .removeAuto(domain)
        .catch((error: unknown) => this.deps.log(`${t.app}: could not remove the automatic certificate of ${domain}: ${String(error)}`));
    }
    for (const w of wanted.values()) {
      if (this.tracked.has(w.domain)) continue;
      const t: Tracked = { ...w, ordering: undefined, failures: 0, lastError: null, lastErrorAt: null, nextAttemptAt: null, retry: undefined };
      this.tracked.set(w.domain, t);
      // Failures before a restart count: the next attempt waits for the time they set.
      const kept = this.deps.failures.get(w.domain);
      if (kept !== undefined && kept.app === w.app) {
        Object.assign(t, { failures: kept.failures, lastError: kept.lastError, lastErrorAt: kept.lastErrorAt, nextAttemptAt: kept.nextAttemptAt });
        const wait = kept.nextAttemptAt - this.now();
        if (wait > 0) this.retryIn(t, wait);
      } else if (kept !== undefined) this.deps.failures.clear(w.domain);
      this.consider(t);
    }
  }

  /** Orders every followed name whose certificate is missing or due for renewal (names waiting to retry keep waiting). */
  check(): void {
    if (!this.running) return;
    this.reconcile();
    for (const t of this.tracked.values()) this.consider(t);
  }

  /** The names of the app that automatic certificates are (or would be) for. */
  namesOf(app: string): string[] {
    return this.deps.namesOf(app);
  }

  /** The automatic-certificate state of a name, or undefined when it is not followed. */
  status(domain: string): AutoStatus | undefined {
    const t = this.tracked.get(domain);
    if (!t) return undefined;
    const stored = this.deps.certificates.find(domain);
    const state = t.ordering ? 'ordering' : t.lastError !== null ? 'failed' : stored?.source === 'uploaded' ? 'uploaded' : 'issued';
    return { state, lastError: t.lastError, lastErrorAt: t.lastErrorAt, nextAttemptAt: t.nextAttemptAt, failures: t.failures };
  }

  /** Resolves when no order is under way (tests, and a clean stop). */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.tracked.values()].flatMap((t) => (t.ordering ? [t.ordering] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  private untrack(t: Tracked): void {
    if (t.retry !== undefined) this.timers.clear(t.retry);
    this.tracked.delete(t.domain);
  }

  private consider(t: Tracked): void {
    if (t.ordering || t.retry !== undefined) return;
    const stored = this.deps.certificates.find(t.domain);
    // An uploaded certificate is the user's choice: it is never replaced.
    if (stored?.source === 'uploaded') return;
    if (stored && !renewalDue(stored.notAfter, this.now(), this.deps.renewBeforeMs)) return;
    t.ordering = this.order(t).finally(() => (t.ordering = undefined));
  }

  private async order(t: Tracked): Promise<void> {
    const renewing = this.deps.certificates.find(t.domain) !== undefined;
    this.deps.log(`${t.app}: ${renewing ? 'renewing' : 'ordering'} the certificate of ${t.domain}`);
    try {
      const certificate = await this.deps.issuer.issue(t.domain);
      if (!this.current(t)) return;
      await this.deps.certificates.saveAuto(t.app, t.domain, certificate);
      if (t.failures > 0) this.deps.failures.clear(t.domain);
      t.failures = 0;
      t.lastError = t.lastErrorAt = t.nextAttemptAt = null;
      this.deps.log(`${t.app}: certificate for ${t.domain} issued`);
    } catch (error) {
      if (!this.current(t)) return;
      t.failures += 1;
      t.lastError = error instanceof Error ? error.message : String(error);
      t.lastErrorAt = this.now();
      const delay = retryDelay(t.failures, this.deps.retryBaseMs);
      t.nextAttemptAt = t.lastErrorAt + delay;
      this.deps.failures.put(t.domain, {
        app: t.app,
        failures: t.failures,
        lastError: t.lastError,
        lastErrorAt: t.lastErrorAt,
        nextAttemptAt: t.nextAttemptAt,
      });
      this.deps.log(`${t.app}: certificate order for ${t.domain} failed (attempt ${t.failures}, next in ${Math.round(delay / 1000)} s): ${t.lastError}`);
      this.retryIn(t, delay);
    }
  }

  private retryIn(t: Tracked, delay: number): void {
    t.retry = this.timers.set(() => {
      t.retry = undefined;
      if (this.current(t)) this.consider(t);
    }, delay);
  }

  /** Whether the name is still followed the way it was when `t` was made (not dropped, not moved to another app). */
  private current(t: Tracked): boolean {
    return this.running && this.tracked.get(t.domain) === t;
  }
}
