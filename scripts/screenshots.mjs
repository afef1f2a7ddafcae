// Takes the README's screenshots of the dashboard (.github/screenshots/*.png) from a real server,
// real pushes and the same headless chromium the browser tests use, so they can be refreshed
// whenever the pages change.
//
// Usage: scripts/screenshots   (needs npm run build and scripts/setup)
import http from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, loggedIn } from './bench/lib/browser.mjs';
import { commit, makeRepo, progress, push, ROOT, routerGet, startSlipway, writeFiles } from './bench/lib/harness.mjs';

const APP = 'shop';
const OUT = path.join(ROOT, '.github/screenshots');
const DOCKERFILE = 'FROM slipway/test-busybox:latest\nCOPY . /app\nWORKDIR /app\n';
const WEB = 'echo "listening on $PORT" && exec httpd -f -v -p 127.0.0.1:$PORT -h /app';
const WORKER = 'while true; do echo "worker: processed a job"; sleep 5; done';
const MIGRATE = `echo "Running migrations"
echo "  001_create_orders ... done"
test -z "$GATE" || wget -q -O /dev/null "http://127.0.0.1:$GATE/"
echo "  002_add_index ... done"
test -z "$FAIL_HOOK" || { echo "  003_backfill: relation \\"carts\\" does not exist"; exit 1; }
`;

async function api(slipway, method, pathname, body) {
  const res = await fetch(`${slipway.url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${slipway.token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

/**
 * Requests to the app through the router until stopped, for the metrics view: mostly pages, some
 * 404s and a few 500s, at a rate that changes every 10 s so the bars differ.
 */
function traffic(slipway) {
  let stopped = false;
  let rate = 5;
  const run = async () => {
    for (let i = 0; !stopped; i++) {
      if (i % 50 === 0) rate = 2 + Math.floor(Math.random() * 10);
      const pathname = i % 23 === 0 ? '/cgi-bin/fail' : i % 7 === 0 ? '/missing' : '/';
      await routerGet(slipway.routerPort, `${APP}.example.test`, pathname).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000 / rate));
    }
  };
  const done = run();
  return async () => {
    stopped = true;
    await done;
  };
}

async function gate() {
  let release;
  const released = new Promise((resolve) => (release = resolve));
  const server = http.createServer((_req, res) => void released.then(() => res.end('go\n')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, release, close: () => server.close() };
}

mkdirSync(OUT, { recursive: true });
const slipway = await startSlipway({ SLIPWAY_DOMAIN: 'example.test' });
const browser = await launchBrowser();
const repo = makeRepo({
  Dockerfile: DOCKERFILE,
  Procfile: `web: ${WEB}\nworker: ${WORKER}\npostdeploy: sh migrate.sh\n`,
  'migrate.sh': MIGRATE,
  'index.html': 'v1\n',
});
const shot = (page, name, fullPage = false) => page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage });
try {
  const { context, page } = await loggedIn(browser, slipway.url, slipway.token, { viewport: { width: 1200, height: 760 }, colorScheme: 'light' });
  await api(slipway, 'POST', '/api/apps', { name: APP });
  await api(slipway, 'POST', '/api/apps', { name: 'blog' });

  progress('A deployment, live, while its hook runs');
  const go = await gate();
  await api(slipway, 'PATCH', `/api/apps/${APP}/env`, { GATE: String(go.port), DATABASE_URL: 'postgres://shop@db/shop', STRIPE_KEY: 'sk_test_123' });
  await page.goto(`${slipway.url}/apps/${APP}`);
  const first = push(repo, slipway.remote(APP));
  await page.locator('[data-deployment="1"] a.dep-id').click();
  await page.locator('.deploy-log').filter({ hasText: '001_create_orders' }).waitFor();
  await page.waitForTimeout(1500);
  await shot(page, 'deployment-live');
  go.release();
  await first;
  go.close();
  await api(slipway, 'PATCH', `/api/apps/${APP}/env`, { GATE: null });

  progress('A failing hook, then a fix');
  await api(slipway, 'PATCH', `/api/apps/${APP}/env`, { FAIL_HOOK: '1' });
  writeFiles(repo, { 'index.html': 'v2\n', 'cgi-bin/fail': '#!/bin/sh\necho "Status: 500 Internal Server Error"\necho\necho failed\n' });
  chmodSync(path.join(repo, 'cgi-bin/fail'), 0o755);
  commit(repo, 'Backfill carts');
  await push(repo, slipway.remote(APP));
  await api(slipway, 'PATCH', `/api/apps/${APP}/env`, { FAIL_HOOK: null });
  writeFiles(repo, { 'index.html': 'v3\n' });
  commit(repo, 'Create carts before the backfill');
  await push(repo, slipway.remote(APP));

  const stopTraffic = traffic(slipway);
  const trafficFrom = Date.now();

  await page.goto(`${slipway.url}/apps/${APP}/deployments/2`);
  await page.locator('h1 [data-status="hook-error"]').waitFor();
  await shot(page, 'deployment-hook-error');

  await page.goto(`${slipway.url}/apps/${APP}`);
  await page.locator('[data-deployment="3"] [data-status="success"]').waitFor();
  await shot(page, 'app-deployments');

  await page.goto(slipway.url);
  await page.locator(`[data-app="${APP}"]`).filter({ hasText: 'running' }).waitFor();
  await shot(page, 'apps');

  await page.goto(`${slipway.url}/apps/${APP}/containers`);
  await page.getByLabel('web').fill('2');
  await page.getByRole('button', { name: 'Scale', exact: true }).click();
  await page.locator('.operation [role="status"]').waitFor({ timeout: 120_000 });
  await page.locator('[data-container="web-2"]').waitFor();
  await page.locator('.app-head').filter({ hasText: '3 / 3 containers running' }).waitFor();
  await shot(page, 'containers', true);

  await page.goto(`${slipway.url}/apps/${APP}/logs`);
  await page.locator('.app-log').filter({ hasText: 'worker' }).waitFor();
  await shot(page, 'logs');

  await page.goto(`${slipway.url}/apps/${APP}/env`);
  await page.locator('[data-env="STRIPE_KEY"]').waitFor();
  await page.locator('[data-env="DATABASE_URL"]').getByRole('button', { name: 'Reveal' }).click();
  await shot(page, 'env');

  progress('Metrics, after three minutes of requests');
  await page.waitForTimeout(Math.max(0, trafficFrom + 180_000 - Date.now()));
  await stopTraffic();
  await page.goto(`${slipway.url}/apps/${APP}/metrics`);
  await page.getByLabel('Window').selectOption('15m');
  await page.locator('[data-container="web-2"] .memory').waitFor({ timeout: 60_000 });
  await shot(page, 'metrics', true);
  await context.close();

  progress('A phone, in dark mode');
  const phone = await loggedIn(browser, slipway.url, slipway.token, { viewport: { width: 390, height: 780 }, colorScheme: 'dark', deviceScaleFactor: 1 });
  await phone.page.goto(`${slipway.url}/apps/${APP}/deployments/3`);
  await phone.page.locator('h1 [data-status="success"]').waitFor();
  await shot(phone.page, 'phone-dark');
  await phone.context.close();

  const login = await browser.newContext({ viewport: { width: 900, height: 520 } });
  const loginPage = await login.newPage();
  await loginPage.goto(slipway.url);
  await loginPage.getByLabel('Token').waitFor();
  await shot(loginPage, 'login');
  await login.close();
  progress(`Screenshots in ${path.relative(ROOT, OUT)}/`);
} finally {
  await browser.close();
  await slipway.stop([APP, 'blog']);
  rmSync(repo, { recursive: true, force: true });
}
