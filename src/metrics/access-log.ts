import type { AccessRecord } from '../router/access.js';

/**
 * The router's access lines, per app: the latest `limit` of each app in memory (a bounded store:
 * a busy app cannot grow the server), and whoever follows an app's lines. The one owner of them.
 */
export class AccessLog {
  private readonly lines = new Map<string, AccessRecord[]>();
  private readonly followers = new Map<string, Set<(record: AccessRecord) => void>>();

  /**
   * @param onFollowed told the apps followed whenever that set changes: the router sends every
   *   line of those, and only the latest `limit` a second of the others.
   */
  constructor(
    private readonly limit: number,
    private readonly onFollowed: (apps: string[]) => void = () => undefined,
  ) {}

  /** Records of any apps, in the order the router sent them. */
  add(records: readonly AccessRecord[]): void {
    for (const record of records) {
      const app = record[1];
      let kept = this.lines.get(app);
      if (kept === undefined) this.lines.set(app, (kept = []));
      kept.push(record);
      // Trimmed a quarter at a time: one copy per `limit / 4` lines, not one per line.
      if (kept.length > this.limit + Math.ceil(this.limit / 4)) kept.splice(0, kept.length - this.limit);
      const followers = this.followers.get(app);
      if (followers !== undefined) for (const follower of followers) follower(record);
    }
  }

  /** The app's last `count` lines (at most `limit`), oldest first. */
  tail(app: string, count: number): AccessRecord[] {
    const kept = this.lines.get(app) ?? [];
    return kept.slice(Math.max(0, kept.length - Math.min(count, this.limit)));
  }

  /** Calls `listener` with each new line of the app until the returned function is called. */
  follow(app: string, listener: (record: AccessRecord) => void): () => void {
    let set = this.followers.get(app);
    if (set === undefined) {
      this.followers.set(app, (set = new Set()));
      this.onFollowed([...this.followers.keys()]);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.followers.get(app) === set) {
        this.followers.delete(app);
        this.onFollowed([...this.followers.keys()]);
      }
    };
  }

  /** The apps it holds lines of. */
  apps(): string[] {
    return [...this.lines.keys()];
  }

  /** An app that was deleted: its lines go (a new app of the same name starts empty). */
  forget(app: string): void {
    this.lines.delete(app);
  }
}
