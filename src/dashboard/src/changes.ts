import { streamLines } from './api';

type Listener = (app: string | null) => void;

/**
 * One connection to the API's change stream (`/api/events`), shared by everything on the page
 * and open while anything listens. After a dropped connection it reconnects and tells every
 * listener that anything may have changed (app null), so each fetches again and catches up.
 */
const listeners = new Set<Listener>();
let abort: AbortController | null = null;

async function connect(signal: AbortSignal): Promise<void> {
  let pause = 500;
  while (!signal.aborted) {
    try {
      await streamLines(
        '/api/events',
        (line) => {
          if (line.trim() === '') return;
          const { app } = JSON.parse(line) as { app: string };
          for (const l of listeners) l(app);
        },
        signal,
      );
    } catch {
      // dropped: try again below
    }
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 5000);
    for (const l of listeners) l(null);
  }
}

export function onChanges(listener: Listener): () => void {
  listeners.add(listener);
  if (!abort) {
    abort = new AbortController();
    void connect(abort.signal);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      abort?.abort();
      abort = null;
    }
  };
}
