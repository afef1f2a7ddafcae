import type { IncomingMessage, ServerResponse } from 'node:http';
import { Git } from 'node-git-server';
import type { ChildProcess } from 'node:child_process';
import type { Identity, TokenAuth } from '../auth/tokens.js';
import type { Store } from '../store/store.js';
import { appNameProblem, type Repos } from './repos.js';

const GIT_PATH = /^\/([^/]+)\.git\/(info\/refs|git-receive-pack|git-upload-pack|HEAD)$/;
const DOT_SEGMENT = /(^|\/|%2f)(\.|%2e){1,2}(\/|%2f|$)/i;

/**
 * Git's smart-HTTP protocol at `/<app>.git`, through node-git-server. Every request, fetch or
 * push, needs a valid token (as the basic-auth password); the first push creates the app.
 */
export class GitHttp {
  private readonly git: Git;
  /** Who authenticated each request in flight, for the push that follows. */
  private readonly identities = new WeakMap<IncomingMessage, Identity>();
  /** git-receive-pack process id → who pushed: the hook runs as its child and names it. */
  private readonly pushers = new Map<number, Identity>();

  constructor(
    private readonly repos: Repos,
    private readonly auth: TokenAuth,
    private readonly store: Store,
    /** Why pushes cannot be stored right now (disk full, read-only), if they cannot. */
    private readonly storageProblem: () => Promise<string | undefined> = async () => undefined,
  ) {
    this.git = new Git(repos.dir, { autoCreate: false });
    const track = (action: PushAction): void => {
      const identity = this.identities.get(action.req);
      action.once('service', (ps: ChildProcess) => {
        guard(ps);
        if (identity && ps.pid !== undefined) {
          const pid = ps.pid;
          this.pushers.set(pid, identity);
          ps.once('exit', () => this.pushers.delete(pid));
        }
      });
      action.accept();
    };
    this.git.on('push', track);
    this.git.on('tag', track);
    this.git.on('fetch', (action: PushAction) => {
      action.once('service', guard);
      action.accept();
    });
  }

  /**
   * Who is pushing through the git-receive-pack process `pid`, while it runs. The hook relay
   * (hooks/relay.cjs) runs under that process and sends its parent's pid; see RelayAccess.
   */
  pusherOf(pid: number): Identity | undefined {
    return this.pushers.get(pid);
  }

  /** Handles the request when it is a git request; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const raw = (req.url ?? '/').split('?')[0]!;
    // URL parsing would quietly resolve "/../x.git" to "/x.git": refuse dot segments outright.
    if (DOT_SEGMENT.test(raw) && /\.git(\/|$)/i.test(raw)) {
      text(res, 400, 'The path has "." or ".." segments; use the remote http://git:<token>@<host>:<port>/<app>.git\n');
      return true;
    }
    const url = new URL(req.url ?? '/', 'http://slipway');
    const match = GIT_PATH.exec(url.pathname);
    if (!match) {
      if (!/\.git(\/|$)/.test(url.pathname)) return false;
      text(res, 404, 'Not a git endpoint. Use the remote http://git:<token>@<host>:<port>/<app>.git\n');
      return true;
    }
    this.route(req, res, url, match[1]!, match[2]!).catch((error: unknown) => {
      if (!res.headersSent) text(res, 500, `Slipway could not serve this git request: ${String(error)}\n`);
      else res.destroy();
    });
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, app: string, endpoint: string): Promise<void> {
    const problem = appNameProblem(app);
    if (problem) {
      text(res, 400, `${problem}\n`);
      return;
    }
    const identity = this.auth.fromRequest(req);
    if (!identity) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Slipway"');
      text(res, 401, 'A Slipway token is required: use the remote http://git:<token>@<host>:<port>/<app>.git\n');
      return;
    }
    this.identities.set(req, identity);
    const push = endpoint === 'git-receive-pack' || url.searchParams.get('service') === 'git-receive-pack';
    if (push) {
      const problem = await this.storageProblem();
      if (problem) {
        text(res, 503, `${problem}\n`);
        return;
      }
      this.store.ensureApp(app);
      await this.repos.ensure(app);
    } else if (!this.repos.exists(app)) {
      text(res, 404, `There is no app named ${app}; push to create it.\n`);
      return;
    }
    this.git.handle(req, res);
  }
}

/**
 * git may exit before it has read the whole request (a push over the size limit, say); the
 * request body still being piped into it must not become an unhandled EPIPE that kills the server.
 */
function guard(ps: ChildProcess): void {
  ps.stdin?.on('error', () => undefined);
  ps.stdout?.on('error', () => undefined);
}

/** What node-git-server hands its 'push' and 'tag' listeners (its typings do not say). */
interface PushAction {
  req: IncomingMessage;
  accept(): void;
  once(event: 'service', listener: (ps: ChildProcess) => void): void;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
