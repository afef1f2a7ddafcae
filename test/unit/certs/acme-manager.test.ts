import type { IssuedCertificate } from '../../../src/certs/acme-issuer.js';
import { AcmeManager, memoryFailureLog, type AcmeFailureLog, type AutoCertificateStore, type Timers } from '../../../src/certs/acme-manager.js';

const DAY = 24 * 60 * 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** Timers run by hand: `advance` fires what is due, in order. */
class ManualTimers implements Timers {
  now = T0;
  private pending: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  set(fn: () => void, ms: number): unknown {
    const id = ++this.next;
    this.pending.push({ at: this.now + ms, fn, id });
    return id;
  }
  clear(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const due = this.pending[0];
      if (!due || due.at > until) break;
      this.pending.shift();
      this.now = due.at;
      due.fn();
    }
    this.now = until;
  }
  count(): number {
    return this.pending.length;
  }
}

class FakeStore implements AutoCertificateStore {
  certs = new Map<string, { app: string; source: 'auto' | 'uploaded'; notAfter: number; chain: string }>();
  find(domain: string): { source: 'auto' | 'uploaded'; notAfter: number } | undefined {
    return this.certs.get(domain);
  }
  async saveAuto(app: string, domain: string, certificate: IssuedCertificate): Promise<void> {
    this.certs.set(domain, { app, source: 'auto', notAfter: Number(certificate.chain.split(':')[1]), chain: certificate.chain });
  }
  async removeAuto(domain: string): Promise<void> {
    if (this.certs.get(domain)?.source === 'auto') this.certs.delete(domain);
  }
}

interface Setup {
  manager: AcmeManager;
  timers: ManualTimers;
  store: FakeStore;
  orders: string[];
  enabled: Set<string>;
  domains: Map<string, string[]>;
  failWith: Map<string, string>;
  log: string[];
  failures: AcmeFailureLog;
}

/** A manager; `from` gives the state a previous one left (a restart: same store, same failure log, same clock). */
function setup(from?: Setup): Setup {
  const timers = from?.timers ?? new ManualTimers();
  const store = from?.store ?? new FakeStore();
  const failures = from?.failures ?? memoryFailureLog();
  const orders: string[] = [];
  const failWith = new Map<string, string>();
  const enabled = new Set<string>(['shop']);
  const domains = new Map<string, string[]>([['shop', ['www.shop.example']]]);
  const log: string[] = [];
  const manager = new AcmeManager({
    issuer: {
      async issue(domain) {
        orders.push(domain);
        const reason = failWith.get(domain);
        if (reason) throw new Error(reason);
        // The fake chain carries its expiry: 90 days from now.
        return { key: 'key', chain: `chain:${timers.now + 90 * DAY}` };
      },
    },
    certificates: store,
    failures,
    enabledApps: () => [...enabled],
    namesOf: (app) => domains.get(app) ?? [],
    renewBeforeMs: 30 * DAY,
    checkIntervalMs: DAY,
    retryBaseMs: 60_000,
    log: (line) => log.push(line),
    now: () => timers.now,
    timers,
  });
  return { manager, timers, store, orders, enabled, domains, failWith, log, failures };
}

describe('AcmeManager', () => {
  test('orders a certificate for each name of an app with certs:auto on, at start', async () => {
    const s = setup();
    s.domains.set('shop', ['www.shop.example', 'shop.example']);
    s.manager.start();
    expect(s.manager.status('www.shop.example')?.state).toBe('ordering');
    await s.manager.settled();
    expect(s.orders.sort()).toEqual(['shop.example', 'www.shop.example']);
    expect(s.store.certs.get('www.shop.example')?.app).toBe('shop');
    expect(s.manager.status('www.shop.example')).toEqual({ state: 'issued', lastError: null, lastErrorAt: null, nextAttemptAt: null, failures: 0 });
    s.manager.stop();
  });

  test('a valid certificate is not ordered again; it is renewed 30 days before expiry, at a periodic check', async () => {
    const s = setup();
    s.manager.start();
    await s.manager.settled();
    expect(s.orders).toEqual(['www.shop.example']);
    s.timers.advance(59 * DAY);
    await s.manager.settled();
    expect(s.orders).toEqual(['www.shop.example']);
    s.timers.advance(DAY); // day 60: 30 days before the 90-day certificate expires
    await s.manager.settled();
    expect(s.orders).toEqual(['www.shop.example', 'www.shop.example']);
    expect(s.log.filter((l) => l.includes('renewing'))).toHaveLength(1);
    s.manager.stop();
  });

  test('at start, a stored certificate due for renewal is renewed at once', async () => {
    const s = setup();
    s.store.certs.set('www.shop.example', { app: 'shop', source: 'auto', notAfter: T0 + 10 * DAY, chain: 'old' });
    s.manager.start();
    await s.manager.settled();
    expect(s.orders).toEqual(['www.shop.example']);
    expect(s.store.certs.get('www.shop.example')?.chain).not.toBe('old');
    s.manager.stop();
  });

  test('an uploaded certificate is never replaced', async () => {
    const s = setup();
    s.store.certs.set('www.shop.example', { app: 'shop', source: 'uploaded', notAfter: T0 + DAY, chain: 'mine' });
    s.manager.start();
    s.timers.advance(3 * DAY);
    await s.manager.settled();
    expect(s.orders).toEqual([]);
    expect(s.manager.status('www.shop.example')?.state).toBe('uploaded');
    s.manager.stop();
  });

  test('a failed order keeps the reason, retries with growing waits, and a success clears it', async () => {
    const s = setup();
    s.failWith.set('www.shop.example', 'Order included an identifier for which issuance is forbidden by policy');
    s.manager.start();
    await s.manager.settled();
    expect(s.manager.status('www.shop.example')).toEqual({
      state: 'failed',
      lastError: 'Order included an identifier for which issuance is forbidden by policy',
      lastErrorAt: T0,
      nextAttemptAt: T0 + 60_000,
      failures: 1,
    });
    s.timers.advance(59_999);
    await s.manager.settled();
    expect(s.orders).toHaveLength(1);
    s.timers.advance(1);
    await s.manager.settled();
    expect(s.orders).toHaveLength(2);
    expect(s.manager.status('www.shop.example')?.nextAttemptAt).toBe(s.timers.now + 240_000);
    // A periodic check does not jump the queue of a name waiting to retry.
    s.manager.check();
    await s.manager.settled();
    expect(s.orders).toHaveLength(2);
    s.failWith.delete('www.shop.example');
    s.timers.advance(240_000);
    await s.manager.settled();
    expect(s.orders).toHaveLength(3);
    expect(s.manager.status('www.shop.example')).toMatchObject({ state: 'issued', lastError: null, failures: 0 });
    s.manager.stop();
  });

  test('failures survive a restart: the last error is still shown, and the next order waits for the backoff they set', async () => {
    const first = setup();
    first.failWith.set('www.shop.example', 'Rate limit: too many failed authorizations recently');
    first.manager.start();
    await first.manager.settled();
    first.timers.advance(60_000);
    await first.manager.settled();
    expect(first.orders).toHaveLength(2);
    first.manager.stop();
    // Restarted 10 s later: the second failure set a wait of 240 s.
    first.timers.advance(10_000);
    const second = setup(first);
    second.failWith.set('www.shop.example', 'still failing');
    second.manager.start();
    await second.manager.settled();
    expect(second.orders).toEqual([]);
    expect(second.manager.status('www.shop.example')).toEqual({
      state: 'failed',
      lastError: 'Rate limit: too many failed authorizations recently',
      lastErrorAt: T0 + 60_000,
      nextAttemptAt: T0 + 60_000 + 240_000,
      failures: 2,
    });
    second.timers.advance(230_000 - 1);
    await second.manager.settled();
    expect(second.orders).toEqual([]);
    second.timers.advance(1);
    await second.manager.settled();
    expect(second.orders).toEqual(['www.shop.example']);
    // The third failure in a row waits 16 minutes, and is kept too.
    expect(second.failures.get('www.shop.example')).toEqual({
      app: 'shop',
      failures: 3,
      lastError: 'still failing',
      lastErrorAt: T0 + 300_000,
      nextAttemptAt: T0 + 300_000 + 960_000,
    });
    second.manager.stop();
    // A success clears what was kept; so does a name no longer wanted.
    const third = setup(second);
    third.timers.advance(960_000);
    await third.manager.settled();
    third.manager.start();
    await third.manager.settled();
    expect(third.orders).toEqual(['www.shop.example']);
    expect(third.failures.get('www.shop.example')).toBeUndefined();
    third.manager.stop();
  });

  test('a kept failure is dropped when its name is no longer wanted, or belongs to another app now', async () => {
    const s = setup();
    s.failures.put('gone.shop.example', { app: 'shop', failures: 1, lastError: 'x', lastErrorAt: T0, nextAttemptAt: T0 + 60_000 });
    s.failures.put('www.shop.example', { app: 'blog', failures: 5, lastError: 'x', lastErrorAt: T0, nextAttemptAt: T0 + DAY });
    s.domains.set('shop', ['www.shop.example', 'gone.shop.example']);
    s.manager.start();
    await s.manager.settled();
    // www moved from blog to shop: ordered at once, as a new name.
    expect(s.orders).toEqual(['www.shop.example']);
    expect(s.failures.get('www.shop.example')).toBeUndefined();
    s.domains.set('shop', ['www.shop.example']);
    s.manager.reconcile();
    expect(s.failures.get('gone.shop.example')).toBeUndefined();
    s.manager.stop();
  });

  test('a failing name holds up no other name', async () => {
    const s = setup();
    s.domains.set('shop', ['bad.shop.example', 'www.shop.example']);
    s.failWith.set('bad.shop.example', 'refused');
    s.manager.start();
    await s.manager.settled();
    expect(s.store.certs.has('www.shop.example')).toBe(true);
    expect(s.manager.status('bad.shop.example')?.state).toBe('failed');
    s.manager.stop();
  });

  test('a domain added to the app is ordered; a removed one stops renewing and loses its automatic certificate', async () => {
    const s = setup();
    s.manager.start();
    await s.manager.settled();
    s.domains.set('shop', ['www.shop.example', 'api.shop.example']);
    s.manager.reconcile();
    await s.manager.settled();
    expect(s.orders).toEqual(['www.shop.example', 'api.shop.example']);
    s.domains.set('shop', ['api.shop.example']);
    s.manager.reconcile();
    await s.manager.settled();
    expect(s.store.certs.has('www.shop.example')).toBe(false);
    expect(s.manager.status('www.shop.example')).toBeUndefined();
    s.timers.advance(200 * DAY);
    await s.manager.settled();
    expect(s.orders.filter((d) => d === 'www.shop.example')).toHaveLength(1);
    s.manager.stop();
  });

  test('turning certs:auto off stops the retries of a failing name', async () => {
    const s = setup();
    s.failWith.set('www.shop.example', 'refused');
    s.manager.start();
    await s.manager.settled();
    s.enabled.delete('shop');
    s.manager.reconcile();
    s.timers.advance(7 * DAY);
    await s.manager.settled();
    expect(s.orders).toHaveLength(1);
    s.manager.stop();
  });

  test('a certificate whose order ends after its name was removed is not stored', async () => {
    const s = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = new AcmeManager({
      issuer: {
        async issue() {
          await gate;
          return { key: 'k', chain: `chain:${T0 + 90 * DAY}` };
        },
      },
      certificates: s.store,
      failures: s.failures,
      enabledApps: () => [...s.enabled],
      namesOf: (app) => s.domains.get(app) ?? [],
      renewBeforeMs: 30 * DAY,
      checkIntervalMs: DAY,
      retryBaseMs: 60_000,
      log: () => undefined,
      now: () => s.timers.now,
      timers: s.timers,
    });
    slow.start();
    s.domains.set('shop', []);
    slow.reconcile();
    release();
    await new Promise((r) => setImmediate(r));
    expect(s.store.certs.size).toBe(0);
    slow.stop();
  });
});
