/** Runs tasks one at a time per key (an app), and different keys in parallel. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly depth = new Map<string, number>();

  /** How many tasks for `key` are running or waiting. */
  size(key: string): number {
    return this.depth.get(key) ?? 0;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    this.depth.set(key, this.size(key) + 1);
    const result = previous.then(task);
    const tail: Promise<unknown> = result
      .finally(() => {
        const left = this.size(key) - 1;
        if (left === 0) {
          this.depth.delete(key);
          if (this.tails.get(key) === tail) this.tails.delete(key);
        } else {
          this.depth.set(key, left);
        }
      })
      .catch(() => undefined);
    this.tails.set(key, tail);
    return result;
  }
}
