import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { DeliveryJson } from '../../src/cli/commands/notifiers.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const APP = 'notify-app';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP endpoint on 127.0.0.1: records every request; `/flaky` answers 500 once, `/dead` never answers, `/down` holds requests while `down`, `/broken` answers 503. */
class Receiver {
  readonly received: Received[] = [];
  down = true;
  private flakyFailed = false;
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      this.received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/dead') return; // holds the request open: an endpoint that hangs
      if (req.url === '/flaky' && !this.flakyFailed) {
        this.flakyFailed = true;
        res.writeHead(500).end('try later');
      } else if (req.url === '/down' && this.down)
        return; // held until the server that sent it is killed
      else if (req.url === '/broken') res.writeHead(503).end('down');
      else res.writeHead(200).end('ok');
    });
  });
  port = 0;

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  at(p: string, event?: string): Received[] {
    return this.received.filter((r) => r.path === p && (event === undefined || r.headers['x-slipway-event'] === event));
  }

  /** Resolves once `count` requests for the event reached the path (bounded by the test's timeout). */
  async waitFor(p: string, event: string, count = 1): Promise<Received[]> {
    while (this.at(p, event).length < count) await new Promise((r) => setTimeout(r, 50));
    return this.at(p, event);
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

const suite = new ServerSuite([APP]);
let server: TestServer;
let receiver: Receiver;
let slipway: CliRunner;

beforeAll(async () => {
  receiver = new Receiver();
  await receiver.listen();
  // Quick retries (0.2 s, then 1 s, 5 s, 25 s) and a long attempt limit, so a hung endpoint
  // is still hanging when the push ends.
  ({ server, slipway } = await suite.start({ env: { SLIPWAY_NOTIFY_RETRY: '0.2', SLIPWAY_NOTIFY_TIMEOUT: '60' } }));
  expect((await server.api('POST', '/api/apps', { name: APP })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  receiver?.close();
  await suite.stop();
}, 60_000);

test('notifiers: signed JSON and Slack messages for a push, a retry after a 500, a hung endpoint that does not slow the push', async () => {
  const added = await slipway(['notifiers:add', receiver.url('/json'), '-a', APP]);
  expect(added.exitCode).toBe(0);
  const secret = /Secret: ([0-9a-f]{64})/.exec(added.stdout)?.[1];
  expect(secret).toBeDefined();
  const slack = await server.api<{ id: number; secret: string }>('POST', `/api/apps/${APP}/notifiers`, {
    url: receiver.url('/slack'),
    format: 'slack',
    events: ['deploy.succeeded', 'deploy.failed'],
  });
  expect(slack.status).toBe(201);
  const flaky = await server.api<{ id: number }>('POST', `/api/apps/${APP}/notifiers`, { url: receiver.url('/flaky'), events: 'deploy.succeeded' });
  const dead = await server.api<{ id: number }>('POST', `/api/apps/${APP}/notifiers`, { url: receiver.url('/dead'), events: ['deploy.started'] });
  expect([flaky.status, dead.status]).toEqual([201, 201]);

  // The secret is never shown again.
  const list = await slipway(['notifiers', '-a', APP, '--json']);
  expect(list.stdout).not.toContain(secret!);
  expect(JSON.parse(list.stdout)).toHaveLength(4);

  const app = suite.app(busyboxApp({ web: WEB }));
  const sha = await app.commit('Ship the notifier test');
  const push = await app.push(server.remote(APP));
  expect(push.exitCode).toBe(0);
  // The hung endpoint got deploy.started and still holds it (60 s limit): the push did not wait.
  const hung = (await server.api<DeliveryJson[]>('GET', `/api/apps/${APP}/notifiers/${dead.body.id}/deliveries`)).body;
  expect(hung).toEqual([expect.objectContaining({ event: 'deploy.started', state: 'pending', attempts: 0 })]);

  const [started] = await receiver.waitFor('/json', 'deploy.started');
  const [succeeded] = await receiver.waitFor('/json', 'deploy.succeeded');
  for (const r of [started!, succeeded!]) {
    const expected = `sha256=${createHmac('sha256', secret!).update(r.body).digest('hex')}`;
    expect(r.headers['x-slipway-signature']).toBe(expected);
    expect(r.headers['x-slipway-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['content-type']).toBe('application/json');
  }
  expect(started!.headers['x-slipway-delivery']).not.toBe(succeeded!.headers['x-slipway-delivery']);
  const payload = JSON.parse(succeeded!.body);
  expect(payload).toMatchObject({
    event: 'deploy.succeeded',
    app: APP,
    appUrl: `http://${APP}.localhost:${server.routerPort}`,
    logUrl: `${server.url}/api/apps/${APP}/deployments/1/output`,
    deployment: { id: 1, status: 'success', commit: sha, subject: 'Ship the notifier test', pushedBy: 'admin', failedPhase: null, reason: null },
  });
  expect(payload.deployment.durationSeconds).toBeGreaterThan(0);
  expect(Object.keys(payload.deployment.phases)).toEqual(['build', 'start', 'boot', 'switch', 'retire']);
  const log = await server.api<string>('GET', new URL(payload.logUrl).pathname);
  expect(log.body).toContain('Deployment 1 succeeded');

  // Slack: only the events it asked for, as an incoming-webhook message, unsigned.
  const [slackMessage] = await receiver.waitFor('/slack', 'deploy.succeeded');
  expect(receiver.at('/slack', 'deploy.started')).toHaveLength(0);
  expect(slackMessage!.headers['x-slipway-signature']).toBeUndefined();
  expect(JSON.parse(slackMessage!.body).text).toMatch(new RegExp(`\\*${APP}\\*: deployment 1 succeeded in .*${sha.slice(0, 7)}`));

  // The flaky endpoint answered 500, then got the same delivery again.
  const flakyRequests = await receiver.waitFor('/flaky', 'deploy.succeeded', 2);
  expect(flakyRequests[1]!.body).toBe(flakyRequests[0]!.body);
  expect(flakyRequests[1]!.headers['x-slipway-delivery']).toBe(flakyRequests[0]!.headers['x-slipway-delivery']);
  let flakyDelivery: DeliveryJson | undefined;
  while (flakyDelivery?.state !== 'delivered') {
    flakyDelivery = (await server.api<DeliveryJson[]>('GET', `/api/apps/${APP}/notifiers/deliveries?notifier=${flaky.body.id}`)).body[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(flakyDelivery).toMatchObject({ attempts: 2, statusCode: 200, error: null });

  const table = await slipway(['notifiers:deliveries', '-a', APP]);
  expect(table.exitCode).toBe(0);
  expect(table.stdout).toMatch(/deploy\.succeeded\s+delivered \(HTTP 200\)\s+2/);

  // A failed deploy: status, failed phase and reason.
  await app.commit('Break the Procfile', { Procfile: 'web\n' });
  expect((await app.push(server.remote(APP))).exitCode).not.toBe(0);
  const [failed] = await receiver.waitFor('/json', 'deploy.failed');
  expect(JSON.parse(failed!.body).deployment).toMatchObject({ id: 2, status: 'build-error', failedPhase: 'build', subject: 'Break the Procfile' });
  expect(JSON.parse(failed!.body).deployment.reason).toContain('Procfile line 1');
  const [slackFailed] = await receiver.waitFor('/slack', 'deploy.failed');
  expect(JSON.parse(slackFailed!.body).text).toContain('deployment 2 failed: build-error in the build phase: Procfile line 1');
}, 120_000);

test('a delivery pending when the server is killed is sent after it starts again; bad input is one sentence', async () => {
  const broken = await server.api<{ id: number }>('POST', `/api/apps/${APP}/notifiers`, { url: receiver.url('/broken'), events: ['app.crashed'] });
  const tested = await slipway(['notifiers:test', String(broken.body.id), '-a', APP]);
  expect(tested.exitCode).toBe(1);
  expect(tested.stdout).toContain('did not get through: the endpoint answered HTTP 503');

  // A delivery in flight when the server is killed: still pending, sent again after the restart.
  const down = await server.api<{ id: number }>('POST', `/api/apps/${APP}/notifiers`, { url: receiver.url('/down'), events: ['app.crashed'] });
  void server.api('POST', `/api/apps/${APP}/notifiers/${down.body.id}/test`).catch(() => undefined);
  await receiver.waitFor('/down', 'notifier.test', 1);
  await server.crash();
  receiver.down = false;
  await server.restart();
  await receiver.waitFor('/down', 'notifier.test', 2);
  let delivery: DeliveryJson | undefined;
  while (delivery?.state !== 'delivered') {
    delivery = (await server.api<DeliveryJson[]>('GET', `/api/apps/${APP}/notifiers/${down.body.id}/deliveries`)).body[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(delivery).toMatchObject({ event: 'notifier.test', attempts: 1, statusCode: 200 });
  const [first, again] = receiver.at('/down', 'notifier.test');
  expect(again!.headers['x-slipway-delivery']).toBe(first!.headers['x-slipway-delivery']);

  const ok = await slipway(['notifiers:test', String(down.body.id), '-a', APP]);
  expect(ok.stdout).toMatch(/^Notifier \d+ works: the endpoint answered HTTP 200/);

  const bad = await slipway(['notifiers:add', 'ftp://example.com/x', '-a', APP]);
  expect(bad.exitCode).not.toBe(0);
  expect(bad.stderr).toContain('"ftp://example.com/x" is not an http:// or https:// URL');
  const badEvent = await slipway(['notifiers:add', receiver.url('/x'), '--events', 'deploy.done', '-a', APP]);
  expect(badEvent.stderr).toContain('"deploy.done" is not an event; the events are deploy.started, deploy.succeeded, deploy.failed, app.crashed');
  const badFormat = await server.api<{ error: string }>('POST', `/api/apps/${APP}/notifiers`, { url: receiver.url('/x'), format: 'xml' });
  expect(badFormat).toMatchObject({ status: 400, body: { error: 'invalid_format' } });

  expect((await slipway(['notifiers:remove', String(down.body.id), '-a', APP])).exitCode).toBe(0);
  expect((await server.api('POST', `/api/apps/${APP}/notifiers/${down.body.id}/test`)).status).toBe(404);
}, 90_000);
