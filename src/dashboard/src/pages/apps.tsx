import type { App } from '../api';
import { ago } from '../format';
import { usePoll, useTicker } from '../live';
import { onLinkClick } from '../router';
import { Status } from './status';

export function AppsPage() {
  const { data: apps, error } = usePoll<App[]>('/api/apps', 15_000, '*');
  const now = useTicker(true, 1000);
  return (
    <main>
      <h1>Apps</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {apps === undefined && !error && <p class="muted">Loading…</p>}
      {apps?.length === 0 && (
        <p>
          No apps yet. Push one: <code>git push http://…/my-app.git main</code>.
        </p>
      )}
      {apps && apps.length > 0 && (
        <table class="list apps">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Status</th>
              <th scope="col">Containers</th>
              <th scope="col">URL</th>
            </tr>
          </thead>
          <tbody>
            {apps.map((app) => (
              <tr key={app.name} data-app={app.name}>
                <th scope="row">
                  <a href={`/apps/${app.name}`} onClick={onLinkClick}>
                    {app.name}
                  </a>
                  {app.maintenance && <span class="tag warn">maintenance</span>}
                </th>
                <td>
                  {app.deploying ? (
                    <span class="deploying">
                      <Status status="deploying" /> deployment {app.latestDeployment?.id}
                    </span>
                  ) : app.latestDeployment ? (
                    <>
                      <Status status={app.latestDeployment.status} />{' '}
                      <span class="muted">
                        #{app.latestDeployment.id}, {ago(app.latestDeployment.finishedAt ?? app.latestDeployment.createdAt, now)}
                      </span>
                    </>
                  ) : (
                    <span class="muted">never deployed</span>
                  )}
                </td>
                <td class={app.containers.running !== null && app.containers.running < app.containers.expected ? 'warn-text' : ''}>
                  {app.containers.running ?? '?'} / {app.containers.expected} running
                </td>
                <td>
                  <a href={app.url} rel="noreferrer">
                    {app.url.replace(/^https?:\/\//, '')}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
