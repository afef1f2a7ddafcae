import { jest } from '@jest/globals';
import { chmodSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp, startGate, type Gate } from '../support/http.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

jest.setTimeout(120_000);

const NAME = 'dash-app';
/** Waits at the gate (when GATE is set) so the test sees the deploy mid-hook; fails on FAIL_HOOK. */
const HOOK = 'echo "hook started"; test -z "$GATE" || wget -q -O /dev/null "http://127.0.0.1:$GATE/"; echo "hook finished"; test -z "$FAIL_HOOK"';
const UI_TIMEOUT = 30_000;
/** A CGI script busybox's httpd runs: the app's 500s, for the metrics view. */
const FAIL_CGI = '#!/bin/sh\necho "Status: 500 Internal Server Error"\necho "Content-Type: text/plain"\necho\necho failed\n';

const suite = new ServerSuite([NAME]);
let server: TestServer;
let browser: Browser;
let app: TestApp;
let slipway: CliRunner;
/** The logged-in browser the app tests share. */
let context: BrowserContext;
let page: Page;
const commits: string[] = [];

beforeAll(async () => {
  ({ server, slipway } = await suite.start());
  browser = await launchBrowser();
  app = suite.app(busyboxApp({ web: WEB, postdeploy: HOOK }, { 'cgi-bin/fail': FAIL_CGI }));
  chmodSync(path.join(app.dir, 'cgi-bin/fail'), 0o755);
}, 90_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await suite.stop();
}, 60_000);

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  p.setDefaultTimeout(UI_TIMEOUT);
  // Destructive actions ask first; the test says yes.
  p.on('dialog', (dialog) => void dialog.accept());
  return { context: ctx, page: p };
}

async function loginWithToken(p: Page, token: string): Promise<void> {
  await p.goto(server.url);
  await p.getByLabel('Token').fill(token);
  await p.getByRole('button', { name: 'Log in' }).click();
}

test('a wrong token is refused with a sentence; the right one logs in, with an HttpOnly, SameSite=Strict cookie', async () => {
  const { context: ctx, page: p } = await newPage();
  try {
    await loginWithToken(p, 'not-a-token');
    await expectText(p.getByRole('alert'), 'that token is not valid; paste the admin token or a named token (slipway tokens:create)');
    await p.getByLabel('Token').fill(server.token);
    await p.getByRole('button', { name: 'Log in' }).click();
    await expectText(p.locator('.who'), 'Logged in as admin');
    const [cookie] = await ctx.cookies();
    expect(cookie).toMatchObject({ name: 'slipway_session', httpOnly: true, sameSite: 'Strict', secure: false });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000);
  } finally {
    await ctx.close();
  }
}, 60_000);

test('slipway dashboard prints a one-time link that logs in a named token as itself; a second use is refused', async () => {
  const created = await server.api<{ token: string }>('POST', '/api/tokens', { name: 'ci' });
  const printed = await slipway(['dashboard', '--no-open'], { token: created.body.token });
  expect(printed.exitCode).toBe(0);
  const url = /^ {2}(http:\S+)$/m.exec(printed.stdout as string)?.[1];
  expect(url).toMatch(new RegExp(`^${server.url}/login#code=[A-Za-z0-9_-]{32}$`));

  const first = await newPage();
  const second = await newPage();
  try {
    await first.page.goto(url!);
    await expectText(first.page.locator('.who'), 'Logged in as ci');
    expect(new URL(first.page.url()).hash).toBe('');
    await second.page.goto(url!);
    await expectText(second.page.getByRole('alert'), 'this login link was used already or is over 2 minutes old; run "slipway dashboard" for a new one');
    // Named tokens may do what the API lets them: managing tokens is the admin's.
    const status = await first.page.evaluate(async () => (await fetch('/api/tokens')).status);
    expect(status).toBe(403);
  } finally {
    await first.context.close();
    await second.context.close();
  }
}, 60_000);

test('a push started while the page is open: its lines appear before the push ends, the timeline grows, then the final status', async () => {
  ({ context, page } = await newPage());
  await loginWithToken(page, server.token);
  await expectText(page.locator('.who'), 'Logged in as admin');
  expect((await server.api('POST', '/api/apps', { name: NAME })).status).toBe(201);
  const gate: Gate = await startGate();
  try {
    expect((await server.api('PATCH', `/api/apps/${NAME}/env`, { GATE: String(gate.port) })).status).toBe(200);
    await page.goto(`${server.url}/apps/${NAME}`);
    await expectText(page.locator('h1'), NAME);

    // The change stream the pages follow, read here as any client would.
    const events: string[] = [];
    const following = new AbortController();
    const eventStream = fetch(`${server.url}/api/events`, { headers: { authorization: `Bearer ${server.token}` }, signal: following.signal }).then(
      async (res) => {
        const decoder = new TextDecoder();
        for await (const chunk of res.body!)
          events.push(
            ...decoder
              .decode(chunk as Uint8Array, { stream: true })
              .split('\n')
              .filter(Boolean),
          );
      },
    );
    eventStream.catch(() => undefined);

    commits.push(await app.commit('first version'));
    let pushEnded = false;
    const pushing = app.push(server.remote(NAME)).finally(() => (pushEnded = true));

    // The deployments list shows it while it runs; its page follows the output live.
    await page.locator('[data-deployment="1"] a.dep-id').click();
    await expectText(page.locator('.deploy-log'), 'hook started');
    expect(pushEnded).toBe(false);
    expect(await page.locator('.deploy-log').innerText()).toContain(
      `-----> Deploying ${NAME}: deployment 1, commit ${commits[0]!.slice(0, 7)} "first version"`,
    );
    // The hook's bar runs and grows with the clock while the hook waits at the gate.
    const bar = page.locator('[data-phase="postdeploy"][data-state="running"]');
    const before = Number(await bar.getAttribute('data-ms'));
    await page.waitForFunction(
      (ms) => {
        // Runs in the page; the test's own types have no DOM.
        const page = globalThis as unknown as { document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null } };
        return Number(page.document.querySelector('[data-phase="postdeploy"][data-state="running"]')?.getAttribute('data-ms')) > ms + 300;
      },
      before,
      { timeout: UI_TIMEOUT },
    );
    for (const phase of ['build', 'start', 'boot']) expect(await page.locator(`[data-phase="${phase}"]`).getAttribute('data-state')).toBe('done');
    expect(pushEnded).toBe(false);

    gate.release();
    await expect(page.locator('h1 [data-status="success"]').waitFor()).resolves.toBeUndefined();
    const pushed = await pushing;
    expect(pushed.exitCode).toBe(0);
    const log = await page.locator('.deploy-log').innerText();
    expect(log).toContain('hook finished');
    expect(log).toContain(`-----> Deployment 1 succeeded`);
    following.abort();
    expect(new Set(events)).toEqual(new Set([`{"app":"${NAME}","change":"deployment"}`, `{"app":"${NAME}","change":"containers"}`]));
    expect(
      await page.locator('.timeline .bar').evaluateAll((bars) => bars.map((b) => `${b.getAttribute('data-phase')}:${b.getAttribute('data-state')}`)),
    ).toEqual(['build', 'start', 'boot', 'postdeploy', 'switch', 'retire'].map((phase) => `${phase}:done`));
  } finally {
    gate.release();
    gate.close();
    await server.api('PATCH', `/api/apps/${NAME}/env`, { GATE: null });
  }
}, 120_000);

test('the app list shows the URL, the current status and the containers running out of expected', async () => {
  await page.goto(server.url);
  const row = page.locator(`[data-app="${NAME}"]`);
  await expectText(row, 'success');
  await expectText(row, '1 / 1 running');
  await expectText(row, `${NAME}.`);
}, 60_000);

test('the Metrics view shows the requests sent through the router by status class, updates live, shows container memory, and links the access lines', async () => {
  // No request has reached the app through the router yet in this file.
  await page.goto(`${server.url}/apps/${NAME}/metrics`);
  await expectText(page.locator('[data-empty="requests"]'), 'No requests in the last hour.');
  expect(await sendThroughRouter({ '/version.txt': 7, '/cgi-bin/fail': 3 })).toEqual({ 200: 7, 500: 3 });
  await expectFigures({ requests: '10', '2xx': '7', '5xx': '3', '4xx': '0', '3xx': '0', other: '0' });
  expect(await page.locator('[data-metric="p99Ms"]').innerText()).toMatch(/^\d+(\.\d+)? m?s$/);
  expect(await page.getByRole('img', { name: /^Requests per minute in the last hour: 10 in all/ }).count()).toBe(1);
  // The engine's stats are read every 15 s: web-1's memory shows once they have been.
  await expect(page.locator('[data-container="web-1"] .memory').waitFor()).resolves.toBeUndefined();
  expect(await page.locator('[data-container="web-1"] .memory').innerText()).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);

  // More requests: the open page catches up without a reload.
  expect(await sendThroughRouter({ '/version.txt': 2, '/cgi-bin/fail': 1 })).toEqual({ 200: 2, 500: 1 });
  await expectFigures({ requests: '13', '2xx': '9', '5xx': '4' });

  await page.getByRole('link', { name: 'Router access lines' }).click();
  await expectText(page.locator('.app-log'), 'path="/cgi-bin/fail" status=500');
  expect(await page.getByLabel('Process type').inputValue()).toBe('router');
  // The router's lines alone: 13 of them (they may land over more than one frame), each naming the router as its source.
  await page.waitForFunction(
    (count) => {
      // Runs in the page; the test's own types have no DOM.
      const page = globalThis as unknown as { document: { querySelector(selector: string): { textContent: string | null } | null } };
      return (page.document.querySelector('.app-log')?.textContent ?? '').split('\n').filter(Boolean).length >= count;
    },
    13,
    { timeout: UI_TIMEOUT },
  );
  const lines = (await page.locator('.app-log').innerText()).split('\n').filter(Boolean);
  expect(lines).toHaveLength(13);
  for (const line of lines) expect(line).toMatch(/^\S+ router +method=GET path="\/(version\.txt|cgi-bin\/fail)" status=(200|500) /);
}, 90_000);

test('a failing hook shows hook-error on the postdeploy bar', async () => {
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: '1' });
  commits.push(await app.commit('a release whose hook fails', { 'index.html': 'v2\n' }));
  const pushed = await app.push(server.remote(NAME));
  expect(pushed.exitCode).not.toBe(0);
  await server.api('PATCH', `/api/apps/${NAME}/env`, { FAIL_HOOK: null });

  await page.goto(`${server.url}/apps/${NAME}/deployments/2`);
  await expect(page.locator('h1 [data-status="hook-error"]').waitFor()).resolves.toBeUndefined();
  const failed = page.locator('.timeline [data-phase="postdeploy"]');
  await expectText(failed, 'hook-error');
  expect(await failed.getAttribute('data-state')).toBe('failed');
  expect(await page.locator('.timeline [data-state="failed"]').count()).toBe(1);
}, 120_000);

test('roll back with a click: the router serves the old version again', async () => {
  commits.push(await app.commit('third version', { 'index.html': 'v3\n' }));
  expect((await app.push(server.remote(NAME))).exitCode).toBe(0);
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[2]);

  await page.goto(`${server.url}/apps/${NAME}`);
  await page.getByRole('button', { name: 'Roll back to 1' }).click();
  await expectText(page.locator('.operation [role="status"]'), `Deployment 4 now serves ${NAME}.`);
  expect(await page.locator('.operation pre').innerText()).toContain('-----> Rolling');
  expect((await getApp(server.routerPort, NAME, '/version.txt')).body.trim()).toBe(commits[0]);
  await expect(page.locator('[data-deployment="4"] [data-status="success"]').waitFor()).resolves.toBeUndefined();
}, 120_000);

test('scale web to 2: the operation runs live and both containers are listed', async () => {
  await page.goto(`${server.url}/apps/${NAME}/containers`);
  await page.getByLabel('web').fill('2');
  await page.getByRole('button', { name: 'Scale', exact: true }).click();
  await expectText(page.locator('.operation [role="status"]'), 'Formation now: web=2.');
  expect(await page.locator('.operation pre').innerText()).toMatch(/web-2/);
  await expect(page.locator('[data-container="web-2"]').waitFor()).resolves.toBeUndefined();
  expect(await page.locator('tbody [data-container]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-container')))).toEqual(['web-1', 'web-2']);
  // Recent output one click away.
  await page.locator('[data-container="web-1"]').getByRole('button', { name: 'Recent output' }).click();
  await expect(page.getByRole('heading', { name: 'Recent output of web-1' }).waitFor()).resolves.toBeUndefined();
}, 120_000);

test('env set with restart: the value is masked until revealed, and the restarted containers have it', async () => {
  await page.goto(`${server.url}/apps/${NAME}/env`);
  await page.getByLabel('Name').fill('GREETING');
  await page.getByLabel('Value').fill('hello from the dashboard');
  await page.getByLabel("Restart the app's containers afterwards").check();
  await page.getByRole('button', { name: 'Set', exact: true }).click();
  await expectText(page.locator('.operation [role="status"]'), 'Set GREETING; restarted web-1, web-2.');
  const row = page.locator('[data-env="GREETING"]');
  expect(await row.locator('.value').innerText()).toBe('••••••••');
  await row.getByRole('button', { name: 'Reveal' }).click();
  expect(await row.locator('.value').innerText()).toBe('hello from the dashboard');
  expect((await getApp(server.routerPort, NAME, '/env.txt')).body).toContain('GREETING=hello from the dashboard');
}, 120_000);

test('maintenance on and off with the switch: the router answers 503, then the app again', async () => {
  await page.goto(`${server.url}/apps/${NAME}`);
  const toggle = page.getByRole('switch', { name: 'Maintenance mode' });
  await toggle.click();
  // Shown from the server's answer, once every router has the change.
  await expect(page.locator('h1 .maintenance-on').waitFor()).resolves.toBeUndefined();
  expect((await server.api<{ enabled: boolean }>('GET', `/api/apps/${NAME}/maintenance`)).body).toEqual({ enabled: true });
  expect((await getApp(server.routerPort, NAME, '/version.txt')).status).toBe(503);
  await toggle.click();
  await expect(page.locator('h1 .maintenance-on').waitFor({ state: 'detached' })).resolves.toBeUndefined();
  expect((await server.api<{ enabled: boolean }>('GET', `/api/apps/${NAME}/maintenance`)).body).toEqual({ enabled: false });
  expect((await getApp(server.routerPort, NAME, '/version.txt')).status).toBe(200);
}, 60_000);

test('a forged cross-site POST is refused, and so is a same-site one without the CSRF token', async () => {
  // Another site on the same machine: same "site" for SameSite (ports do not count), so the
  // cookie goes along; the Origin check is what refuses it.
  const evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<form method="POST" action="${server.url}/api/apps" enctype="text/plain">` +
        `<input name='{"name": "forged-app", "x": "' value='"}'></form><script>document.forms[0].submit()</script>`,
    );
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  try {
    const evilPort = (evil.address() as { port: number }).port;
    const response = page.waitForResponse((r) => r.url() === `${server.url}/api/apps` && r.request().method() === 'POST');
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    const refused = await response;
    expect(refused.status()).toBe(403);
    expect(await refused.json()).toEqual({ error: 'cross_site', message: 'this request came from another site; changes are made from the dashboard itself' });
    expect((await server.api('GET', '/api/apps/forged-app')).status).toBe(404);

    await page.goto(server.url);
    await expectText(page.locator('.who'), 'Logged in as admin');
    const withoutToken = await page.evaluate(async () => {
      const res = await fetch('/api/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "forged-app"}' });
      return { status: res.status, body: (await res.json()) as unknown };
    });
    expect(withoutToken).toEqual({
      status: 403,
      body: { error: 'csrf_token', message: "the request lacks this session's CSRF token; reload the dashboard and try again" },
    });
    expect((await server.api('GET', '/api/apps/forged-app')).status).toBe(404);
  } finally {
    evil.close();
  }
}, 60_000);

test('log out ends the session: the cookie no longer opens the API', async () => {
  await page.goto(server.url);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByLabel('Token').waitFor()).resolves.toBeUndefined();
  expect(await page.evaluate(async () => (await fetch('/api/apps')).status)).toBe(401);
  expect(await context.cookies()).toEqual([]);
}, 60_000);

/** Sends `count` GETs of each path to the app through the router, one after the other; the statuses answered, counted. */
async function sendThroughRouter(counts: Record<string, number>): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  for (const [pathname, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i++) {
      const { status } = await getApp(server.routerPort, NAME, pathname);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }
  return statuses;
}

/** Waits until each figure of the metrics view (`data-metric`) shows exactly its value. */
async function expectFigures(figures: Record<string, string>): Promise<void> {
  for (const [metric, value] of Object.entries(figures)) {
    const figure = page.locator(`[data-metric="${metric}"]`);
    try {
      await figure.filter({ hasText: new RegExp(`^${value}$`) }).waitFor({ timeout: UI_TIMEOUT });
    } catch {
      throw new Error(`expected the metrics view to show ${metric} ${value}; it shows ${await figure.innerText({ timeout: 1000 }).catch(() => '(nothing)')}`);
    }
  }
}

/** Waits until the element's text contains `text` (the page updates live). */
async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout: UI_TIMEOUT });
  } catch {
    const shown = await locator
      .first()
      .innerText()
      .catch(() => '(nothing)');
    throw new Error(`expected the page to show "${text}"; it shows:\n${shown}`);
  }
}
