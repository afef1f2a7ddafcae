import type { Store } from '../store/store.js';
import { detailLine, isOwnLine, type DeployLog } from './log.js';

const MAX_STORED_BYTES = 8 * 1024 * 1024;

/**
 * Copies a deployment's output into the store. The first line after a quiet moment is stored at
 * once, before anyone else sees it (the recorder subscribes first), so a line a git client has
 * seen survives a crash right after it; the rest of that turn of the event loop goes in one
 * transaction, so loud output costs few writes.
 * A hook may print without limit: past `maxBytes` its lines are counted, not stored, while
 * Slipway's own lines (phases, errors, the final status) are always kept.
 */
export function recordOutput(
  store: Store,
  app: string,
  id: number,
  log: DeployLog,
  maxBytes = MAX_STORED_BYTES,
  onError: (error: unknown) => void = () => undefined,
): () => void {
  let batch: string[] = [];
  /** Set while a burst of lines is being batched: until the end of the current turn. */
  let burst: NodeJS.Immediate | undefined;
  let stored = 0;
  let dropped = 0;
  let failed = false;
  const flush = (): void => {
    const lines = batch;
    batch = [];
    if (lines.length === 0 || failed) return;
    try {
      store.appendOutput(app, id, lines);
    } catch (error) {
      // The app was destroyed meanwhile (its records went with it), or the disk failed: the
      // deployment goes on and its live followers still see every line.
      failed = true;
      onError(error);
    }
  };
  const noteDropped = (): void => {
    if (dropped === 0) return;
    batch.push(detailLine(`... ${dropped} lines of output not stored: a deployment keeps its first ${maxBytes / 1024 / 1024} MB`));
    dropped = 0;
  };
  const stopLines = log.onLine((line) => {
    const own = isOwnLine(line);
    if (!own && stored + line.length > maxBytes) {
      dropped++;
      return;
    }
    if (own) noteDropped();
    stored += line.length + 1;
    batch.push(line);
    if (burst === undefined) {
      flush();
      burst = setImmediate(() => {
        burst = undefined;
        flush();
      });
    } else if (batch.length >= 500) flush();
  });
  const stopEnd = log.onEnd(() => {
    noteDropped();
    flush();
  });
  return () => {
    stopLines();
    stopEnd();
    if (burst) clearImmediate(burst);
    flush();
  };
}
