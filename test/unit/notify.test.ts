import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CrashLoops } from '../../src/notify/crash-loop.js';
import { DeliveryQueue, MAX_ATTEMPTS, type OutgoingRequest } from '../../src/notify/deliveries.js';
import { deploymentSummary, type Notification } from '../../src/notify/events.js';
import { render, sign, slackText } from '../../src/notify/format.js';
import { notifierEvents, notifierFormat, notifierUrl } from '../../src/notify/validate.js';
import { Store } from '../../src/store/store.js';

let dir: string;
let store: Store;
let clock: number;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-notify-'));
  clock = 1_000_000;
  store = new Store(path.join(dir, 'db'), () => clock);
  store.ensureApp('app');
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const flush = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

test('a signature is sha256= and the hex HMAC-SHA256 of the exact body', () => {
  expect(sign('s3cret', '{"a":1}')).toBe(`sha256=${createHmac('sha256', 's3cret').update('{"a":1}').digest('hex')}`);
});

test('a failed deployment names its status, the phase it failed in, and why', () => {
  const d = store.createDeployment('app', { commit: 'a'.repeat(40), ref: 'refs/heads/main', pushedBy: 'ci' });
  store.startPhase('app', d.id, 'build');
  clock += 1500;
  store.finishPhase('app', d.id, 'build');
  store.startPhase('app', d.id, 'boot');
  clock += 2000;
  store.finishDeployment('app', d.id, 'timeout-error', 'web-1 did not answer');
  const summary = deploymentSummary(store.getDeployment('app', d.id)!, store.listPhases('app', d.id), 'Fix it');
  expect(summary).toMatchObject({ status: 'timeout-error', failedPhase: 'boot', reason: 'web-1 did not answer', durationSeconds: 3.5, phases: { build: 1.5 } });
  const n: Notification = { event: 'deploy.failed', app: 'app', appUrl: 'http://app.localhost', deployment: summary, logUrl: 'http://api/log', time: '' };
  expect(slackText(n)).toBe(
    ':x: *app*: deployment 1 failed: timeout-error in the boot phase: web-1 did not answer (commit `aaaaaaa` "Fix it", pushed by ci). Log: http://api/log',
  );
  expect(JSON.parse(render('slack', n))).toEqual({ text: slackText(n) });
  expect(JSON.parse(render('json', n))).toEqual(n);
});

test('notifier input: http(s) URLs only, known events, json or slack', () => {
  expect(notifierUrl(' https://hooks.example.com/x ')).toBe('https://hooks.example.com/x');
  for (const bad of ['ftp://x/y', 'hooks.example.com', 'javascript:alert(1)', '', 42]) {
    expect(() => notifierUrl(bad)).toThrow(/is not an http:\/\/ or https:\/\/ URL/);
  }
  expect(notifierEvents('deploy.failed, app.crashed')).toEqual(['deploy.failed', 'app.crashed']);
  expect(notifierEvents(undefined)).toEqual([]);
  expect(() => notifierEvents(['deploy.failed', 'cert.failed'])).toThrow('"cert.failed" is not an event');
  expect(() => notifierEvents(7)).toThrow(/must be a list/);
  expect(notifierFormat(undefined)).toBe('json');
  expect(() => notifierFormat('xml')).toThrow(/"json".*"slack"/);
});

test('a delivery is retried with growing waits, and given up after five attempts', async () => {
  const n = store.notifiers.add('app', { url: 'http://127.0.0.1:9/x', events: [], format: 'json', secret: 'k' });
  const sent: OutgoingRequest[] = [];
  const queue = new DeliveryQueue({
    store: store.notifiers,
    send: async (r) => {
      sent.push(r);
      return 500;
    },
    timeoutMs: 1000,
    retryBaseMs: 10_000,
    log: () => undefined,
    now: () => clock,
  });
  store.notifiers.enqueue([{ id: 'd1', notifier: n.id, app: 'app', event: 'deploy.failed', body: '{"x":1}' }]);
  const waits: number[] = [];
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const record = await queue.sendNow('d1');
    expect(record).toMatchObject({ attempts: attempt, statusCode: 500, error: 'the endpoint answered HTTP 500' });
    if (record!.nextAttemptAt !== null) waits.push(record!.nextAttemptAt - clock);
    clock = record!.nextAttemptAt ?? clock;
  }
  expect(waits).toEqual([10_000, 50_000, 250_000, 1_250_000]);
  expect(store.notifiers.getDelivery('d1')).toMatchObject({ state: 'failed', attempts: 5 });
  expect(sent.every((r) => r.body === '{"x":1}' && r.headers['x-slipway-delivery'] === 'd1')).toBe(true);
  expect(sent[0]!.headers['x-slipway-signature']).toBe(sign('k', '{"x":1}'));
  await queue.stop();
});

test('the queue sends what is due on its own, and an error without a response is recorded', async () => {
  const n = store.notifiers.add('app', { url: 'http://127.0.0.1:9/x', events: [], format: 'slack', secret: 'k' });
  const answers = [Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')), Promise.resolve(204)];
  answers[0]!.catch(() => undefined);
  const sent: OutgoingRequest[] = [];
  const queue = new DeliveryQueue({
    store: store.notifiers,
    send: (r) => {
      sent.push(r);
      return answers.shift()!;
    },
    timeoutMs: 1000,
    retryBaseMs: 1,
    log: () => undefined,
    now: () => Date.now(),
  });
  store.notifiers.enqueue([{ id: 'd2', notifier: n.id, app: 'app', event: 'deploy.started', body: '{}' }]);
  queue.kick();
  while (store.notifiers.getDelivery('d2')!.state === 'pending') await flush();
  expect(store.notifiers.getDelivery('d2')).toMatchObject({ state: 'delivered', attempts: 2, statusCode: 204, error: null });
  expect(sent).toHaveLength(2);
  expect(sent[0]!.headers['x-slipway-signature']).toBeUndefined();
  expect(store.notifiers.deliveries('app', undefined, 10).map((d) => d.id)).toEqual(['d2']);
  store.notifiers.remove('app', n.id);
  expect(store.notifiers.deliveries('app', undefined, 10)).toEqual([]);
  await queue.stop();
});

test('a crash loop is three exits of one container within five minutes, reported once per half hour', () => {
  let now = 0;
  const loops = new CrashLoops(() => now);
  expect(loops.died('web-1')).toBeUndefined();
  now += 1000;
  expect(loops.died('web-2')).toBeUndefined();
  expect(loops.died('web-1')).toBeUndefined();
  now += 1000;
  expect(loops.died('web-1')).toBe(3);
  expect(loops.died('web-1')).toBeUndefined();
  now += 6 * 60 * 1000;
  expect(loops.died('web-2')).toBeUndefined();
  now += 30 * 60 * 1000;
  for (let i = 0; i < 2; i++) expect(loops.died('web-1')).toBeUndefined();
  expect(loops.died('web-1')).toBe(3);
});
