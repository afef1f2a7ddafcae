/** When automatic certificates are ordered again: pure arithmetic on times in milliseconds. */

/** The longest wait between two attempts at a failing order: a fixed DNS record is noticed within it. */
export const MAX_RETRY_MS = 6 * 60 * 60_000;

/** How much longer each wait after a failure is than the one before. */
const RETRY_FACTOR = 4;

/**
 * Whether a certificate expiring at `notAfter` is due for renewal at `now`: `renewBeforeMs`
 * before it expires. A window longer than the certificate's life renews it at every check.
 */
export function renewalDue(notAfter: number, now: number, renewBeforeMs: number): boolean {
  return now >= notAfter - renewBeforeMs;
}

/**
 * The wait after the `failures`-th failure in a row (1 for the first): `baseMs`, then 4 times
 * longer each time, at most MAX_RETRY_MS (or `baseMs` itself when that is longer).
 */
export function retryDelay(failures: number, baseMs: number): number {
  const exponent = Math.max(0, failures - 1);
  // Past the cap long before the power overflows; the bound keeps the arithmetic exact.
  const delay = exponent > 20 ? Number.POSITIVE_INFINITY : baseMs * RETRY_FACTOR ** exponent;
  return Math.min(delay, Math.max(MAX_RETRY_MS, baseMs));
}
