/** How many exits within the window make a crash loop. */
const DEATHS = 3;
const WINDOW_MS = 5 * 60 * 1000;
/** After a notification, the same container is quiet this long. */
const QUIET_MS = 30 * 60 * 1000;

/**
 * Tells a web container restarting in a loop (Docker restarts it with backoff) from one that
 * died once: three exits of the same container within five minutes, reported once per half hour.
 */
export class CrashLoops {
  private readonly deaths = new Map<string, number[]>();
  private readonly reported = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Notes an exit of `container` (its engine name); returns how many exits the loop has when it is one to report. */
  died(container: string): number | undefined {
    const now = this.now();
    const recent = (this.deaths.get(container) ?? []).filter((t) => now - t < WINDOW_MS);
    recent.push(now);
    this.deaths.set(container, recent);
    this.forgetOld(now);
    if (recent.length < DEATHS) return undefined;
    const last = this.reported.get(container);
    if (last !== undefined && now - last < QUIET_MS) return undefined;
    this.reported.set(container, now);
    return recent.length;
  }

  private forgetOld(now: number): void {
    for (const [name, times] of this.deaths) if (now - times[times.length - 1]! >= WINDOW_MS) this.deaths.delete(name);
    for (const [name, at] of this.reported) if (now - at >= QUIET_MS) this.reported.delete(name);
  }
}
