import type { Store } from '../store/store.js';
import type { DeployLog } from './log.js';

/**
 * Copies a deployment's output into the store: the lines written in one turn of the event
 * loop go in one transaction, so loud output costs few writes and a crash loses next to nothing.
 */
export function recordOutput(store: Store, app: string, id: number, log: DeployLog): () => void {
  let batch: string[] = [];
  let pending: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (pending) clearImmediate(pending);
    pending = undefined;
    const lines = batch;
    batch = [];
    store.appendOutput(app, id, lines);
  };
  const stopLines = log.onLine((line) => {
    batch.push(line);
    if (batch.length >= 500) flush();
    else pending ??= setImmediate(flush);
  });
  const stopEnd = log.onEnd(flush);
  return () => {
    stopLines();
    stopEnd();
    flush();
  };
}
