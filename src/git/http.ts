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
  /** The git process serving each POST whose commands were read, to end it if its body stalls. */
  private readonly services = new WeakMap<IncomingMessage, ChildProcess | undefined>();
  /** Pushes to an app that does not exist yet: it is created once their commands arrive. */
  private readonly creating = new WeakMap<IncomingMessage, string>();

  constructor(
    private readonly repos: Repos,
    private readonly auth: TokenAuth,
    private readonly store: Store,
    /** Why pushes to the app cannot be taken right now (disk full, app being destroyed, server stopping), if they cannot. */
    private readonly pushProblem: (app: string) => Promise<string | undefined> = async () => undefined,
    /** How long a request body may go without a byte before the request is ended (timeouts.gitBody). */
    private readonly bodyIdleMs = 120_000,
  ) {
    this.git = new Git(repos.dir, { autoCreate: false });
    const track = (action: PushAction): void => {
      const identity = this.identities.get(action.req);
      this.services.set(action.req, undefined);
      action.once('service', (ps: ChildProcess) => {
        guard(ps);
        this.services.set(action.req, ps);
        if (identity && ps.pid !== undefined) {
          const pid = ps.pid;
          this.pushers.set(pid, identity);
          ps.once('exit', () => this.pushers.delete(pid));
        }
      });
      const app = this.creating.get(action.req);
      if (app === undefined) {
        action.accept();
        return;
      }
      // The first push creates the app, once git's commands show it is one.
      this.store.ensureApp(app);
      this.repos.ensure(app).then(
        () => action.accept(),
        (error: unknown) => action.reject(500, `Slipway could not create the repository of ${app}: ${String(error)}\n`),
      );
    };
    this.git.on('push', track);
    this.git.on('tag', track);
    this.git.on('fetch', (action: PushAction) => {
      this.services.set(action.req, undefined);
      action.once('service', (ps: ChildProcess) => {
        guard(ps);
        this.services.set(action.req, ps);
      });
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
      const problem = await this.pushProblem(app);
      if (problem) {
        text(res, 503, `${problem}\n`);
        return;
      }
    }
    if (push && endpoint === 'git-receive-pack') {
      // Only the push itself creates the app: once its commands arrive (track, above).
      if (!this.repos.exists(app)) this.creating.set(req, app);
    } else if (!this.repos.exists(app)) {
      if (!push) {
        text(res, 404, `There is no app named ${app}; create it (slipway apps:create ${app}) or push to it.\n`);
        return;
      }
      // git's first question before a push, which refs there are, creates nothing: it is
      // answered for an empty repository.
      await this.advertiseNew(res);
      return;
    }
    if (req.method === 'POST') this.boundBody(req, res);
    this.git.handle(req, res);
  }

  private async advertiseNew(res: ServerResponse): Promise<void> {
    const refs = await this.repos.advertiseNew();
    const banner = '# service=git-receive-pack\n';
    const body = Buffer.concat([Buffer.from(`${(banner.length + 4).toString(16).padStart(4, '0')}${banner}0000`), refs]);
    res.writeHead(200, {
      'content-type': 'application/x-git-receive-pack-advertisement',
      'cache-control': 'no-cache, max-age=0, must-revalidate',
      'content-length': body.length,
    });
    res.end(body);
  }

  /**
   * Push and fetch requests wait for their whole deployment, so no overall timeout fits them;
   * their body, though, must keep coming: a body that stops for `bodyIdleMs` ends the request
   * (and the git process reading it), and an empty one — no git command at all — is refused at once.
   */
  private boundBody(req: IncomingMessage, res: ServerResponse): void {
    const seconds = Math.round(this.bodyIdleMs / 100) / 10;
    req.setTimeout(this.bodyIdleMs, () => {
      this.services.get(req)?.kill();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.once('finish', () => req.socket.destroy());
      text(res, 408, `The git request sent nothing for ${seconds} s, so Slipway ended it; push (or fetch) again.\n`);
    });
    req.once('end', () => {
      req.socket.setTimeout(0);
      // node-git-server waits for the commands in the body before it starts git: without any,
      // it would wait forever. (The commands, when there are some, were read on the way here.)
      setImmediate(() => {
        if (this.services.has(req) || res.headersSent) return;
        text(res, 400, 'The git request has no commands in its body; use git to push or fetch.\n');
      });
    });
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
  reject(code: number, message: string): void;
  once(event: 'service', listener: (ps: ChildProcess) => void): void;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
