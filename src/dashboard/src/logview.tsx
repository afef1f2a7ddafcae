import { useEffect, useRef } from 'preact/hooks';

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;

export interface LogSink {
  reset(): void;
  append(line: string): void;
}

/**
 * A growing log, written straight into the DOM a frame at a time: thousands of lines cost one
 * text append per frame, not a re-render. It keeps the end in view unless the reader scrolled up.
 */
export function useLogView(): { sink: LogSink; ref: (el: HTMLPreElement | null) => void } {
  const el = useRef<HTMLPreElement | null>(null);
  const pending = useRef<string[]>([]);
  const frame = useRef<number | null>(null);
  const sink = useRef<LogSink>({
    reset() {
      pending.current = [];
      if (el.current) el.current.textContent = '';
    },
    append(line: string) {
      pending.current.push(line.replace(SGR, ''));
      frame.current ??= requestAnimationFrame(() => {
        frame.current = null;
        const pre = el.current;
        if (!pre) return;
        const follow = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
        pre.append(`${pending.current.join('\n')}\n`);
        pending.current = [];
        if (follow) pre.scrollTop = pre.scrollHeight;
      });
    },
  });
  useEffect(() => () => void (frame.current !== null && cancelAnimationFrame(frame.current)), []);
  return { sink: sink.current, ref: (e) => void (el.current = e) };
}
