// Debian's chromium driven by playwright-core, as the browser tests drive it (no network needed).
import { chromium } from 'playwright-core';
import { chromiumOptions } from './chromium.mjs';

export function launchBrowser() {
  return chromium.launch(chromiumOptions());
}

/** A browser context logged in to the dashboard with `token` (a session cookie). */
export async function loggedIn(browser, url, token, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(url);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  return { context, page };
}
