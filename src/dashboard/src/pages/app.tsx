import { api, type App, type Deployment, path } from '../api';
import { ago, FINAL } from '../format';
import { usePoll, useTicker } from '../live';
import { OperationView, useOperation } from '../operation';
import { onLinkClick } from '../router';
import { Timeline } from '../timeline';
import { ContainersTab } from './containers';
import { DomainsTab } from './domains';
import { EnvTab } from './env';
import { LogsTab } from './logs';
import { MetricsTab } from './metrics';
import { Status } from './status';

const TABS = [
  ['', 'Deployments'],
  ['containers', 'Containers'],
  ['logs', 'Logs'],
  ['metrics', 'Metrics'],
  ['env', 'Environment'],
  ['domains', 'Domains'],
] as const;

export function AppPage({ name, tab }: { name: string; tab: string }) {
  const { data: app, error, refresh } = usePoll<App>(path.app(name), 15_000, name);
  const base = `/apps/${encodeURIComponent(name)}`;
  const toggleMaintenance = async (): Promise<void> => {
    if (!app) return;
    const on = !app.maintenance;
    if (on && !confirm(`Turn maintenance on? Visitors of ${name} get a 503 page until you turn it off.`)) return;
    try {
      await api('PUT', `${path.app(name)}/maintenance`, { enabled: on });
    } catch (e) {
      alert((e as Error).message);
    }
    refresh();
  };
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/" onClick={onLinkClick}>
          Apps
        </a>{' '}
        / <span>{name}</span>
      </nav>
      <header class="app-head">
        <h1>
          {name} {app?.maintenance && <span class="tag warn maintenance-on">maintenance on</span>}
        </h1>
        {app && (
          <p>
            <a href={app.url} rel="noreferrer">
              {app.url}
            </a>{' '}
            <span class="muted">
              {app.containers.running ?? '?'} / {app.containers.expected} containers running
            </span>
          </p>
        )}
        {app && (
          <label class="switch">
            <input type="checkbox" role="switch" checked={app.maintenance} onChange={() => void toggleMaintenance()} /> Maintenance mode
          </label>
        )}
      </header>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <nav class="tabs" aria-label={`${name} sections`}>
        {TABS.map(([slug, title]) => (
          <a key={slug} href={slug ? `${base}/${slug}` : base} onClick={onLinkClick} aria-current={tab === slug ? 'page' : undefined}>
            {title}
          </a>
        ))}
      </nav>
      {tab === '' && <DeploymentsTab name={name} app={app} />}
      {tab === 'containers' && app && <ContainersTab name={name} app={app} onChange={refresh} />}
      {tab === 'logs' && <LogsTab name={name} />}
      {tab === 'metrics' && <MetricsTab name={name} />}
      {tab === 'env' && <EnvTab name={name} />}
      {tab === 'domains' && <DomainsTab name={name} />}
    </main>
  );
}

function DeploymentsTab({ name, app }: { name: string; app: App | undefined }) {
  const { data: deployments, error, refresh } = usePoll<Deployment[]>(`${path.app(name)}/deployments?phases=1`, 15_000, name);
  const running = deployments?.some((d) => !FINAL.has(d.status)) ?? false;
  const now = useTicker(running, 500);
  const op = useOperation();
  const rollback = async (d: Deployment): Promise<void> => {
    if (!confirm(`Roll ${name} back to deployment ${d.id} (commit ${d.commit.slice(0, 7)})? Its image starts again and takes the traffic.`)) return;
    await op.start(
      `Rolling back to deployment ${d.id}`,
      `${path.app(name)}/rollback`,
      { deployment: d.id },
      (r) => `Deployment ${(r as Deployment).id} now serves ${name}.`,
    );
    refresh();
  };
  return (
    <section aria-label="Deployments">
      <OperationView run={op.run} />
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {deployments?.length === 0 && <p>No deployments yet: push to deploy.</p>}
      <ol class="deployments">
        {deployments?.map((d) => (
          <li key={d.id} data-deployment={d.id} class={app?.currentDeployment === d.id ? 'current' : ''}>
            <div class="dep-head">
              <a href={`/apps/${encodeURIComponent(name)}/deployments/${d.id}`} onClick={onLinkClick} class="dep-id">
                Deployment {d.id}
              </a>
              <Status status={d.status} />
              {app?.currentDeployment === d.id && <span class="tag">serving</span>}
              <code title={d.commit}>{d.commit.slice(0, 7)}</code>
              <span class="subject">{d.subject ?? ''}</span>
            </div>
            <div class="dep-meta muted">
              {d.rollbackOf !== null ? `rollback to #${d.rollbackOf}, ` : ''}pushed by {d.pushedBy ?? 'unknown'}, {ago(d.createdAt, now)}
              {d.status === 'success' && app?.currentDeployment !== d.id && (
                <button type="button" class="small" onClick={() => void rollback(d)}>
                  Roll back to {d.id}
                </button>
              )}
            </div>
            <Timeline deployment={d} now={now} compact={false} />
          </li>
        ))}
      </ol>
    </section>
  );
}
