import { randomBytes } from 'node:crypto';

/**
 * X-Request-Id values shaped like random (version 4) UUIDs, made cheaply: a random per-process
 * prefix (74 bits) and a 48-bit counter. Unique within a process by the counter and across
 * processes (router workers, restarts) by the prefix, which is drawn again if the counter wraps.
 */
export class RequestIds {
  private prefix = '';
  private counter = 0;

  constructor() {
    this.reseed();
  }

  next(): string {
    if (this.counter >= 0xffff_ffff_ffff) this.reseed();
    const n = this.counter++;
    return this.prefix + n.toString(16).padStart(12, '0');
  }

  private reseed(): void {
    const hex = randomBytes(8).toString('hex');
    const variant = '89ab'[randomBytes(1)[0]! & 3]!;
    // xxxxxxxx-xxxx-4xxx-Vxxx- then the counter's 12 hex digits.
    this.prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(12, 15)}-${variant}${hex.slice(15, 16)}${randomBytes(1).toString('hex')}-`;
    this.counter = 0;
  }
}
