import { useState } from 'preact/hooks';
import { type App, type Container, type LogRecord, path } from '../api';
import { ago } from '../format';
import { usePoll, useTicker } from '../live';
import { OperationView, useOperation } from '../operation';
import { Status } from './status';

interface ScaleResult {
  formation: Record<string, number>;
}

export function ContainersTab({ name, app, onChange }: { name: string; app: App; onChange: () => void }) {
  const { data: ps, error, refresh } = usePoll<Container[]>(`${path.app(name)}/ps`, 15_000, name);
  const now = useTicker(true, 1000);
  const op = useOperation();
  const [counts, setCounts] = useState<Record<string, string>>({});
  const [output, setOutput] = useState<{ name: string; lines: string[] } | null>(null);
  const types = Object.keys(app.formation).sort();

  const scale = async (event: Event): Promise<void> => {
    event.preventDefault();
    const body: Record<string, number> = {};
    for (const type of types) {
      const value = counts[type];
      if (value !== undefined && value !== '' && Number(value) !== app.formation[type]) body[type] = Number(value);
    }
    if (Object.keys(body).length === 0) return;
    if (
      Object.entries(body).some(([t, n]) => n < (app.formation[t] ?? 0)) &&
      !confirm(
        `Scale ${name} down to ${Object.entries(body)
          .map(([t, n]) => `${t}=${n}`)
          .join(', ')}? Containers will be stopped.`,
      )
    )
      return;
    await op.start(
      `Scaling ${Object.entries(body)
        .map(([t, n]) => `${t} to ${n}`)
        .join(', ')}`,
      `${path.app(name)}/scale`,
      body,
      (r) =>
        `Formation now: ${Object.entries((r as ScaleResult).formation)
          .map(([t, n]) => `${t}=${n}`)
          .join(', ')}.`,
    );
    setCounts({});
    refresh();
    onChange();
  };
  const restart = async (type: string | undefined): Promise<void> => {
    if (!confirm(`Restart ${type ? `the ${type} containers` : 'every container'} of ${name}?`)) return;
    await op.start(
      `Restarting ${type ?? 'all'}`,
      `${path.app(name)}/restart`,
      type ? { type } : {},
      (r) => `Restarted ${(r as { restarted: string[] }).restarted.join(', ') || 'nothing'}.`,
    );
    refresh();
  };
  const showOutput = async (c: Container): Promise<void> => {
    if (output?.name === c.name) return setOutput(null);
    try {
      const text = await fetch(`${path.app(name)}/logs?ps=${encodeURIComponent(c.name)}&lines=50`, { credentials: 'same-origin' }).then((r) => r.text());
      const lines = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => (JSON.parse(l) as LogRecord).line);
      setOutput({ name: c.name, lines });
    } catch (e) {
      setOutput({ name: c.name, lines: [`could not read the output: ${(e as Error).message}`] });
    }
  };

  return (
    <section aria-label="Containers">
      <form class="scale" onSubmit={(e) => void scale(e)}>
        <fieldset>
          <legend>Scale</legend>
          {types.length === 0 && <p class="muted">Deploy first: the Procfile's process types appear here.</p>}
          {types.map((type) => (
            <label key={type}>
              {type}{' '}
              <input
                type="number"
                min={0}
                max={100}
                name={type}
                inputMode="numeric"
                value={counts[type] ?? String(app.formation[type] ?? 0)}
                onInput={(e) => setCounts({ ...counts, [type]: (e.currentTarget as HTMLInputElement).value })}
              />
            </label>
          ))}
          {types.length > 0 && <button type="submit">Scale</button>}
        </fieldset>
        <fieldset>
          <legend>Restart</legend>
          <button type="button" onClick={() => void restart(undefined)}>
            Restart all
          </button>
          {types.map((type) => (
            <button type="button" key={type} onClick={() => void restart(type)}>
              Restart {type}
            </button>
          ))}
        </fieldset>
      </form>
      <OperationView run={op.run} />
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <table class="list ps">
        <thead>
          <tr>
            <th scope="col">Container</th>
            <th scope="col">State</th>
            <th scope="col">Since</th>
            <th scope="col">Restarts</th>
            <th scope="col">Deployment</th>
            <th scope="col">
              <span class="visually-hidden">Output</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {ps?.map((c) => (
            <tr key={c.container} data-container={c.name}>
              <th scope="row">{c.name}</th>
              <td>
                <Status status={c.state} />
                {c.exitCode !== null && c.state !== 'running' ? ` (exit ${c.exitCode})` : ''}
              </td>
              <td>{ago(c.startedAt, now)}</td>
              <td>{c.restartCount}</td>
              <td>{c.deployment ?? '—'}</td>
              <td>
                <button type="button" class="small" aria-expanded={output?.name === c.name} onClick={() => void showOutput(c)}>
                  {output?.name === c.name ? 'Hide output' : 'Recent output'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {ps?.length === 0 && <p class="muted">No containers.</p>}
      {output && (
        <section aria-label={`Recent output of ${output.name}`}>
          <h3>Recent output of {output.name}</h3>
          <pre class="log">{output.lines.join('\n') || '(nothing printed)'}</pre>
        </section>
      )}
    </section>
  );
}
