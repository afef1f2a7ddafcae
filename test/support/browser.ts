import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's chromium, headless, with nothing that reaches for the network (the test machine has
 * none): playwright-core drives it and gives it a fresh temporary profile each launch.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
    timeout: 60_000,
  });
}
