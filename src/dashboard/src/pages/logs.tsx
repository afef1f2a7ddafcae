import { useState } from 'preact/hooks';
import { type Container, type LogRecord, path } from '../api';
import { usePoll, useStream } from '../live';
import { useLogView } from '../logview';

const ROUTER = 'router';

/**
 * The app's container output and the router's access lines (type `router`), merged and following
 * live, filtered by process type or container; `?type=router` (the metrics view's link) starts
 * with the access lines alone.
 */
export function LogsTab({ name }: { name: string }) {
  const [type, setType] = useState(() => new URLSearchParams(location.search).get('type') ?? '');
  const [ps, setPs] = useState('');
  const { data: containers } = usePoll<Container[]>(`${path.app(name)}/ps`, 15_000, name);
  const types = [...new Set((containers ?? []).map((c) => c.type).filter((t): t is string => t !== null))].sort();
  // The router's lines are a type of their own, with no container listed in ps.
  if (!types.includes(ROUTER)) types.push(ROUTER);
  const names = [...new Set((containers ?? []).filter((c) => !type || c.type === type).map((c) => c.name))].sort();
  const query = new URLSearchParams({ lines: '200', follow: '1' });
  if (type) query.set('type', type);
  if (ps) query.set('ps', ps);
  const log = useLogView();
  const state = useStream(
    `${path.app(name)}/logs?${query}`,
    () => log.sink.reset(),
    (line) => {
      if (line.trim() === '') return; // keep-alive
      const r = JSON.parse(line) as LogRecord;
      log.sink.append(`${r.time.slice(11, 23)} ${r.container.padEnd(10)} ${r.line}`);
    },
    true,
  );
  return (
    <section aria-label="Logs">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Process type{' '}
          <select
            value={type}
            onChange={(e) => {
              setType((e.currentTarget as HTMLSelectElement).value);
              setPs('');
            }}
          >
            <option value="">all</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t === ROUTER ? 'router (access lines)' : t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Container{' '}
          <select value={ps} onChange={(e) => setPs((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span class="muted stream-state" data-state={state}>
          {state === 'live' ? 'following live' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…'}
        </span>
      </form>
      <pre class="log app-log" ref={log.ref} tabIndex={0} aria-label={`Output of ${name}'s containers`} />
    </section>
  );
}
