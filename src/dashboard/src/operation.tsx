import { useState } from 'preact/hooks';
import { operation } from './api';

export interface OperationRun {
  title: string;
  lines: string[];
  outcome: { ok: true; text: string } | { ok: false; text: string } | null;
}

/** Runs operations one after another and shows the latest: its live lines, then how it ended. */
export function useOperation(): {
  run: OperationRun | null;
  start: (title: string, path: string, body: unknown, describe: (result: unknown) => string) => Promise<boolean>;
} {
  const [run, setRun] = useState<OperationRun | null>(null);
  const start = async (title: string, path: string, body: unknown, describe: (result: unknown) => string): Promise<boolean> => {
    let current: OperationRun = { title, lines: [], outcome: null };
    setRun(current);
    const update = (change: Partial<OperationRun>): void => {
      current = { ...current, ...change };
      setRun(current);
    };
    try {
      const result = await operation(path, body, (line) => update({ lines: [...current.lines, line] }));
      update({ outcome: { ok: true, text: describe(result) } });
      return true;
    } catch (error) {
      update({ outcome: { ok: false, text: (error as Error).message } });
      return false;
    }
  };
  return { run, start };
}

export function OperationView({ run }: { run: OperationRun | null }) {
  if (!run) return null;
  return (
    <section class="operation" aria-live="polite" aria-label={run.title}>
      <h3>
        {run.title}
        {run.outcome ? '' : ' …'}
      </h3>
      {run.lines.length > 0 && <pre class="log">{run.lines.join('\n')}</pre>}
      {run.outcome && (
        <p class={run.outcome.ok ? 'ok' : 'error'} role={run.outcome.ok ? 'status' : 'alert'}>
          {run.outcome.text}
        </p>
      )}
    </section>
  );
}
