import { useEffect, useRef, useState } from 'preact/hooks';
import { api, streamLines } from './api';
import { onChanges } from './changes';

/**
 * JSON from the API, fetched again when the change stream says `app` changed (any app for '*'),
 * when the page becomes visible again, and every `everyMs` as a safety net; so the page stays
 * current without reloading.
 */
export function usePoll<T>(path: string, everyMs = 15_000, app?: string): { data: T | undefined; error: string | undefined; refresh: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const tick = useRef(0);
  const [, force] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const load = async (): Promise<void> => {
      clearTimeout(timer);
      try {
        const value = await api<T>('GET', path);
        if (!stopped) {
          setData(value);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError((e as Error).message);
      }
      if (!stopped && everyMs > 0) timer = setTimeout(() => void (document.hidden ? undefined : load()), everyMs) as unknown as number;
    };
    const onVisible = (): void => void (document.hidden ? undefined : load());
    document.addEventListener('visibilitychange', onVisible);
    // A burst of changes (a deploy's phases) costs one fetch per 250 ms at most.
    let soon: number | undefined;
    const stopChanges =
      app === undefined
        ? () => undefined
        : onChanges((changed) => {
            if (changed !== null && app !== '*' && changed !== app) return;
            soon ??= setTimeout(() => {
              soon = undefined;
              void load();
            }, 250) as unknown as number;
          });
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(soon);
      stopChanges();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [path, everyMs, app, tick.current]);
  return {
    data,
    error,
    refresh: () => {
      tick.current++;
      force((n) => n + 1);
    },
  };
}

export type StreamState = 'connecting' | 'live' | 'ended' | 'reconnecting';

/**
 * Follows a streamed endpoint. Each (re)connection starts with `onReset`, and the server sends
 * what was missed again (the lines so far, or the last N), so a dropped connection catches up.
 * Reconnects after a drop, with a pause that grows to 5 s; `endless` streams reconnect even
 * when the server ends them.
 */
export function useStream(path: string | null, onReset: () => void, onLine: (line: string) => void, endless = false): StreamState {
  const [state, setState] = useState<StreamState>('connecting');
  const handlers = useRef({ onReset, onLine });
  handlers.current = { onReset, onLine };
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    let pause = 500;
    const run = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        let first = true;
        try {
          await streamLines(
            path,
            (line) => {
              if (first) {
                first = false;
                setState('live');
              }
              handlers.current.onLine(line);
            },
            abort.signal,
          );
          if (!endless) {
            setState('ended');
            return;
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        setState('reconnecting');
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 5000);
        if (!abort.signal.aborted) handlers.current.onReset();
      }
    };
    setState('connecting');
    handlers.current.onReset();
    void run();
    return () => abort.abort();
  }, [path, endless]);
  return state;
}

/** Re-renders every `ms` while `on` (a running bar grows, an age counts up). */
export function useTicker(on: boolean, ms = 250): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [on, ms]);
  return now;
}
