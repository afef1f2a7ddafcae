import { useState } from 'preact/hooks';
import { api, path } from '../api';
import { ago } from '../format';
import { usePoll } from '../live';

export function DomainsTab({ name }: { name: string }) {
  const { data: domains, error, refresh } = usePoll<{ domain: string; createdAt: string }[]>(`${path.app(name)}/domains`, 0);
  const [domain, setDomain] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const act = async (run: () => Promise<unknown>): Promise<void> => {
    setProblem(null);
    try {
      await run();
      refresh();
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  return (
    <section aria-label="Domains">
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ul class="domains">
        {domains?.map((d) => (
          <li key={d.domain} data-domain={d.domain}>
            <code>{d.domain}</code> <span class="muted">added {ago(d.createdAt)}</span>{' '}
            <button
              type="button"
              class="small danger"
              onClick={() =>
                confirm(`Stop sending ${d.domain} to ${name}?`) && void act(() => api('DELETE', `${path.app(name)}/domains/${encodeURIComponent(d.domain)}`))
              }
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      {domains?.length === 0 && <p class="muted">No custom domains: the app answers at its own name.</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await api('POST', `${path.app(name)}/domains`, { domain });
            setDomain('');
          });
        }}
      >
        <label>
          Add a domain{' '}
          <input name="domain" placeholder="www.example.com" value={domain} onInput={(e) => setDomain((e.currentTarget as HTMLInputElement).value)} />
        </label>{' '}
        <button type="submit">Add</button>
      </form>
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
    </section>
  );
}
