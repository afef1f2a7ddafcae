import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, setSession } from './api';
import { AppPage } from './pages/app';
import { AppsPage } from './pages/apps';
import { DeploymentPage } from './pages/deployment';
import { navigate, onLinkClick, usePath } from './router';
import './style.css';

interface SessionJson {
  name: string;
  csrf: string | null;
}

function Login({ onLogin, notice }: { onLogin: (s: SessionJson) => void; notice: string | null }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      onLogin(await api<SessionJson>('POST', '/api/session', { token }));
    } catch (e) {
      setProblem((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Log in to Slipway</h1>
      <p>
        Run <code>slipway dashboard</code> for a one-time link, or paste a token (the admin token, or a named one from <code>slipway tokens:create</code>).
      </p>
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
    </main>
  );
}

function Dashboard() {
  const path = usePath();
  const [session, setState] = useState<SessionJson | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const loggedIn = (s: SessionJson | null): void => {
    setSession(s?.csrf ?? null, () => setState(null));
    setState(s);
  };
  useEffect(() => {
    const code = new URLSearchParams(location.hash.slice(1)).get('code');
    if (location.pathname === '/login' && code) {
      // The code is used up now: it must not stay in the address bar or the history.
      history.replaceState(null, '', '/login');
      api<SessionJson>('POST', '/api/session', { code })
        .then((s) => {
          loggedIn(s);
          navigate('/');
        })
        .catch((e: Error) => {
          setNotice(e.message);
          loggedIn(null);
        });
      return;
    }
    api<SessionJson>('GET', '/api/session').then(loggedIn, (e: unknown) => {
      if (!(e instanceof ApiFailure) || e.status !== 401) setNotice((e as Error).message);
      loggedIn(null);
    });
  }, []);
  if (session === undefined)
    return (
      <p class="muted" style={{ padding: '1rem' }}>
        Loading…
      </p>
    );
  if (session === null) {
    return (
      <Login
        notice={notice}
        onLogin={(s) => {
          loggedIn(s);
          if (location.pathname === '/login') navigate('/');
        }}
      />
    );
  }
  const logout = async (): Promise<void> => {
    await api('DELETE', '/api/session').catch(() => undefined);
    loggedIn(null);
    navigate('/login');
  };
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let page;
  if (parts[0] === 'apps' && parts[1] && parts[2] === 'deployments' && parts[3]) page = <DeploymentPage key={path} name={parts[1]} id={Number(parts[3])} />;
  else if (parts[0] === 'apps' && parts[1]) page = <AppPage key={parts[1]} name={parts[1]} tab={parts[2] ?? ''} />;
  else page = <AppsPage />;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <a href="/" onClick={onLinkClick} class="brand">
          Slipway
        </a>
        <span class="who">
          Logged in as <strong>{session.name}</strong>
        </span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <div id="content">{page}</div>
    </>
  );
}

render(<Dashboard />, document.getElementById('root')!);
