// Debian's chromium, headless, with nothing that reaches for the network (the test machine has
// none). The one set of launch options the browser tests, the benchmarks and the screenshots
// share; chromium.d.mts types it for the tests.
export function chromiumOptions() {
  return {
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
  };
}
