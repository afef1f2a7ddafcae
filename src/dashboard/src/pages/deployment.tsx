import { useEffect, useState } from 'preact/hooks';
import { type Deployment, path } from '../api';
import { ago, FINAL } from '../format';
import { usePoll, useStream, useTicker } from '../live';
import { useLogView } from '../logview';
import { onLinkClick } from '../router';
import { Timeline } from '../timeline';
import { Status } from './status';

/**
 * One deployment: its phases and its log exactly as the git client saw it. While it runs, the
 * log follows the API's live output and the timeline grows; each new phase line refreshes it.
 */
export function DeploymentPage({ name, id }: { name: string; id: number }) {
  const base = `${path.app(name)}/deployments/${id}`;
  const [live, setLive] = useState(true);
  // Phase lines refresh the timeline at once; the poll catches a phase recorded just after its line.
  const { data: d, error, refresh } = usePoll<Deployment>(base, live ? 2000 : 0);
  const running = d !== undefined && !FINAL.has(d.status);
  const now = useTicker(running, 200);
  const log = useLogView();
  const stream = useStream(
    `${base}/output?follow=1`,
    () => log.sink.reset(),
    (line) => {
      log.sink.append(line);
      if (line.startsWith('-----> ')) refresh();
    },
  );
  // The stream ends with the deployment: then its final status and phases.
  useEffect(() => {
    if (stream !== 'ended') return;
    setLive(false);
    refresh();
  }, [stream]);
  const shown = d;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/" onClick={onLinkClick}>
          Apps
        </a>{' '}
        /{' '}
        <a href={`/apps/${encodeURIComponent(name)}`} onClick={onLinkClick}>
          {name}
        </a>{' '}
        / <span>deployment {id}</span>
      </nav>
      <h1>
        Deployment {id} {shown && <Status status={shown.status} />}
      </h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {shown && (
        <p class="dep-meta">
          <code title={shown.commit}>{shown.commit.slice(0, 7)}</code> {shown.subject ?? ''}{' '}
          <span class="muted">
            — pushed by {shown.pushedBy ?? 'unknown'}, {ago(shown.createdAt, now)}
            {shown.reason ? `; ${shown.reason}` : ''}
          </span>
        </p>
      )}
      {shown && <Timeline deployment={shown} now={now} />}
      <h2 class="log-title">
        Output{' '}
        <span class="muted stream-state" data-state={stream}>
          {stream === 'live' ? '(live)' : stream === 'reconnecting' ? '(reconnecting…)' : ''}
        </span>
      </h2>
      <pre class="log deploy-log" ref={log.ref} tabIndex={0} aria-label={`Output of deployment ${id}`} aria-live="off" />
    </main>
  );
}
