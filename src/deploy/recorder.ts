import type { Store } from '../store/store.js';
import type { DeployLog } from './log.js';

/** Copies a deployment's output into the store in batches, so loud output costs few writes. */
export function recordOutput(store: Store, app: string, id: number, log: DeployLog, intervalMs = 100): () => void {
  let batch: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const lines = batch;
    batch = [];
    store.appendOutput(app, id, lines);
  };
  const stopLines = log.onLine((line) => {
    batch.push(line);
    if (batch.length >= 500) flush();
    else timer ??= setTimeout(flush, intervalMs);
  });
  const stopEnd = log.onEnd(flush);
  return () => {
    stopLines();
    stopEnd();
    flush();
  };
}
