/** Runs tasks one at a time per key (an app), and different keys in parallel. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  /** What runs (first) and waits for each key, in order, by the label each task was given. */
  private readonly entries = new Map<string, { label: string }[]>();

  /** How many tasks for `key` are running or waiting. */
  size(key: string): number {
    return this.entries.get(key)?.length ?? 0;
  }

  /** The labels of the tasks for `key` that run or wait, oldest first. */
  pending(key: string): string[] {
    return (this.entries.get(key) ?? []).map((e) => e.label);
  }

  run<T>(key: string, task: () => Promise<T>, label = 'a task'): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const entry = { label };
    const list = this.entries.get(key) ?? [];
    list.push(entry);
    this.entries.set(key, list);
    const result = previous.then(task);
    const tail: Promise<unknown> = result
      .finally(() => {
        const left = (this.entries.get(key) ?? []).filter((e) => e !== entry);
        if (left.length === 0) {
          this.entries.delete(key);
          if (this.tails.get(key) === tail) this.tails.delete(key);
        } else {
          this.entries.set(key, left);
        }
      })
      .catch(() => undefined);
    this.tails.set(key, tail);
    return result;
  }
}

/** "deployment 7", "deployment 7 and a scale", "deployment 7, a scale and apps:destroy". */
export function listed(labels: readonly string[]): string {
  if (labels.length <= 1) return labels[0] ?? '';
  return `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
}
