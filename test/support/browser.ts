import { chromium, type Browser } from 'playwright-core';
import { chromiumOptions } from '../../scripts/bench/lib/chromium.mjs';

/** Debian's chromium (options shared with the benchmarks): playwright-core drives it with a fresh temporary profile each launch. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch(chromiumOptions());
}
