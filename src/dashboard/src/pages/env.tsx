import { useState } from 'preact/hooks';
import { api, path } from '../api';
import { usePoll } from '../live';
import { OperationView, useOperation } from '../operation';

/** Environment variables: masked, one revealed at a time; set and unset, optionally restarting. */
export function EnvTab({ name }: { name: string }) {
  const { data: env, error, refresh } = usePoll<Record<string, string>>(`${path.app(name)}/env`, 0);
  const [revealed, setRevealed] = useState<string | null>(null);
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [restart, setRestart] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const op = useOperation();

  const change = async (changes: Record<string, string | null>, what: string): Promise<void> => {
    setProblem(null);
    try {
      await api('PATCH', `${path.app(name)}/env`, changes);
    } catch (e) {
      setProblem((e as Error).message);
      return;
    }
    refresh();
    if (restart) {
      await op.start(
        `${what}, restarting`,
        `${path.app(name)}/restart`,
        {},
        (r) => `${what}; restarted ${(r as { restarted: string[] }).restarted.join(', ') || 'nothing'}.`,
      );
    } else {
      setProblem(null);
    }
  };
  const set = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (!key.trim()) return setProblem('Give the variable a name, e.g. DATABASE_URL.');
    await change({ [key.trim()]: value }, `Set ${key.trim()}`);
    setKey('');
    setValue('');
  };
  const unset = async (k: string): Promise<void> => {
    if (!confirm(`Remove ${k} from ${name}'s environment?`)) return;
    await change({ [k]: null }, `Removed ${k}`);
  };

  return (
    <section aria-label="Environment">
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <table class="list env">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {env &&
            Object.entries(env).map(([k, v]) => (
              <tr key={k} data-env={k}>
                <th scope="row">
                  <code>{k}</code>
                </th>
                <td>
                  <code class="value">{revealed === k ? v : '••••••••'}</code>
                </td>
                <td class="actions">
                  <button type="button" class="small" aria-pressed={revealed === k} onClick={() => setRevealed(revealed === k ? null : k)}>
                    {revealed === k ? 'Hide' : 'Reveal'}
                  </button>
                  <button type="button" class="small danger" onClick={() => void unset(k)}>
                    Unset
                  </button>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
      {env && Object.keys(env).length === 0 && <p class="muted">No variables.</p>}
      <form class="env-set" onSubmit={(e) => void set(e)}>
        <fieldset>
          <legend>Set a variable</legend>
          <label>
            Name <input name="key" value={key} autoComplete="off" spellcheck={false} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label>
            Value{' '}
            <input name="value" value={value} autoComplete="off" spellcheck={false} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
          </label>
          <label class="check">
            <input type="checkbox" name="restart" checked={restart} onChange={(e) => setRestart((e.currentTarget as HTMLInputElement).checked)} /> Restart the
            app's containers afterwards
          </label>
          <button type="submit">Set</button>
        </fieldset>
      </form>
      <p class="muted">Running containers keep the values they started with until a restart or a deploy.</p>
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
      <OperationView run={op.run} />
    </section>
  );
}
