import type { LaunchOptions } from 'playwright-core';

/** Launch options for Debian's chromium, headless, with nothing that reaches for the network. */
export declare function chromiumOptions(): LaunchOptions;
