// Dashboard benchmark, in a real headless chromium on loopback:
//  - hook line → in the deployment page: a Node hook prints 200 timestamped lines (one every
//    10 ms) while the page follows the deployment; the page notes when each lands in its DOM;
//  - first load of an app page (fresh browser context, empty cache, logged in) until its
//    deployments are shown;
//  - the bytes that first load transfers: the page's files gzipped as served, plus the API's JSON;
//  - first load of the app's metrics view (after 200 requests through the router) until its
//    figures show them, and the size of the metrics JSON the view fetches again every few seconds.
//
// Usage: scripts/bench/dashboard [--loads 10]   (progress on stderr; a table, then JSON on stdout)
import http from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { launchBrowser, loggedIn } from './lib/browser.mjs';
import { makeRepo, percentile, progress, push, routerGet, startSlipway, table } from './lib/harness.mjs';

const { values } = parseArgs({ options: { loads: { type: 'string', default: '10' } } });
const LOADS = Number(values.loads);
const APP = 'bench-dashboard';
const LINES = 200;
// Waits for the bench's go (so the page is on the deployment before the first tick), then ticks.
const HOOK = `node -e 'fetch("http://127.0.0.1:"+process.env.GATE).then(()=>{let i=0;const t=setInterval(()=>{console.log("tick "+Date.now());if(++i===${LINES})clearInterval(t)},10)})'`;
const WEB = `node -e 'require("http").createServer((q,s)=>s.end("ok")).listen(process.env.PORT,"127.0.0.1")'`;

const ms = (x) => Math.round(x * 10) / 10;

async function gate() {
  let release;
  const released = new Promise((resolve) => (release = resolve));
  const server = http.createServer((_req, res) => void released.then(() => res.end('go\n')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, release, close: () => server.close() };
}

async function hookLineLatency(slipway, browser) {
  const go = await gate();
  const repo = makeRepo({ Procfile: `web: ${WEB}\npostdeploy: ${HOOK}\n` });
  const { context, page } = await loggedIn(browser, slipway.url, slipway.token);
  try {
    await fetch(`${slipway.url}/api/apps`, { method: 'POST', headers: { authorization: `Bearer ${slipway.token}` }, body: JSON.stringify({ name: APP }) });
    await fetch(`${slipway.url}/api/apps/${APP}/env`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${slipway.token}` },
      body: JSON.stringify({ GATE: String(go.port) }),
    });
    await page.goto(`${slipway.url}/apps/${APP}`);
    const pushing = push(repo, slipway.remote(APP));
    await page.locator('[data-deployment="1"] a.dep-id').click();
    await page.locator('[data-phase="postdeploy"]').waitFor({ timeout: 300_000 });
    // Each tick's arrival in the page's DOM, by the page's clock (the same machine's).
    await page.evaluate(() => {
      window.__ticks = [];
      new MutationObserver((records) => {
        const now = Date.now();
        for (const r of records)
          for (const node of r.addedNodes) for (const m of (node.textContent ?? '').matchAll(/tick (\d+)/g)) window.__ticks.push(now - Number(m[1]));
      }).observe(document.querySelector('.deploy-log'), { childList: true });
    });
    go.release();
    const result = await pushing;
    if (result.code !== 0) throw new Error(`the push failed:\n${result.output}`);
    await page.waitForFunction((n) => window.__ticks.length >= n, LINES, { timeout: 60_000 });
    const delays = await page.evaluate(() => window.__ticks);
    return { lines: delays.length, p50: percentile(delays, 50), p99: percentile(delays, 99), max: Math.max(...delays) };
  } finally {
    go.close();
    await context.close();
    rmSync(repo, { recursive: true, force: true });
  }
}

async function firstLoad(slipway, browser) {
  const times = [];
  let transfer;
  const login = await loggedIn(browser, slipway.url, slipway.token);
  const cookies = await login.context.cookies();
  await login.context.close();
  for (let i = 0; i < LOADS; i++) {
    // A new context each time: an empty cache, with only the session's cookie.
    const context = await browser.newContext();
    try {
      await context.addCookies(cookies);
      const page = await context.newPage();
      const requests = [];
      page.on('requestfinished', (request) => requests.push(request));
      const started = Date.now();
      await page.goto(`${slipway.url}/apps/${APP}`);
      await page.locator('[data-deployment="1"] .timeline').waitFor({ timeout: 60_000 });
      times.push(Date.now() - started);
      if (!transfer) {
        transfer = { files: 0, api: 0, requests: requests.length };
        for (const request of requests) {
          const sizes = await request.sizes();
          const kind = new URL(request.url()).pathname.startsWith('/api/') ? 'api' : 'files';
          transfer[kind] += sizes.responseBodySize + sizes.responseHeadersSize;
        }
      }
    } finally {
      await context.close();
    }
  }
  return { p50: percentile(times, 50), max: Math.max(...times), transfer };
}

async function metricsView(slipway, browser) {
  for (let i = 0; i < 200; i++) {
    const status = await routerGet(slipway.routerPort, `${APP}.localhost`, '/');
    if (status !== 200) throw new Error(`the router answered ${status} for ${APP}`);
  }
  const login = await loggedIn(browser, slipway.url, slipway.token);
  const cookies = await login.context.cookies();
  await login.context.close();
  const times = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    try {
      await context.addCookies(cookies);
      const page = await context.newPage();
      const started = Date.now();
      await page.goto(`${slipway.url}/apps/${APP}/metrics`);
      // At least the 200 sent (the earlier loads' own requests do not go through the router).
      await page.waitForFunction(() => Number(document.querySelector('[data-metric="requests"]')?.textContent) >= 200, null, { timeout: 60_000 });
      times.push(Date.now() - started);
    } finally {
      await context.close();
    }
  }
  const json = {};
  for (const since of ['1h', '24h']) {
    const res = await fetch(`${slipway.url}/api/apps/${APP}/metrics?since=${since}`, { headers: { authorization: `Bearer ${slipway.token}` } });
    json[since] = (await res.arrayBuffer()).byteLength;
  }
  return { p50: percentile(times, 50), max: Math.max(...times), json };
}

const slipway = await startSlipway();
const browser = await launchBrowser();
try {
  progress(`Hook line → deployment page (${LINES} lines from a Node hook on the stack image)`);
  const latency = await hookLineLatency(slipway, browser);
  progress(`First load of the app page (${LOADS} fresh contexts)`);
  const load = await firstLoad(slipway, browser);
  progress(`First load of the metrics view (${LOADS} fresh contexts)`);
  const metrics = await metricsView(slipway, browser);
  const results = {
    hookLineToPageMs: { lines: latency.lines, p50: ms(latency.p50), p99: ms(latency.p99), max: ms(latency.max) },
    appPageFirstLoadMs: { loads: LOADS, p50: load.p50, max: load.max },
    firstLoadBytes: {
      filesGzipped: load.transfer.files,
      apiJson: load.transfer.api,
      total: load.transfer.files + load.transfer.api,
      requests: load.transfer.requests,
    },
    metricsViewFirstLoadMs: { loads: LOADS, p50: metrics.p50, max: metrics.max },
    metricsJsonBytes: metrics.json,
  };
  console.log(
    table(
      ['measure', 'value'],
      [
        ['hook line → visible in the page, p50 / p99 (ms)', `${results.hookLineToPageMs.p50} / ${results.hookLineToPageMs.p99}`],
        ['app page first load, p50 / max (ms)', `${load.p50} / ${load.max}`],
        [
          'first load transfer: files (gzip) + API JSON',
          `${(load.transfer.files / 1024).toFixed(1)} KB + ${(load.transfer.api / 1024).toFixed(1)} KB, ${load.transfer.requests} requests`,
        ],
        ['metrics view first load until its figures show, p50 / max (ms)', `${metrics.p50} / ${metrics.max}`],
        ['metrics JSON per refresh, 1 h / 24 h window', `${(metrics.json['1h'] / 1024).toFixed(1)} KB / ${(metrics.json['24h'] / 1024).toFixed(1)} KB`],
      ],
    ),
  );
  console.log(JSON.stringify(results, null, 2));
} finally {
  await browser.close();
  await slipway.stop([APP]);
}
