import type { IncomingMessage, ServerResponse } from 'node:http';
import { Git } from 'node-git-server';
import type { ChildProcess } from 'node:child_process';
import type { Identity, TokenAuth } from '../auth/tokens.js';
import type { Store } from '../store/store.js';
import { errorLine } from '../deploy/log.js';
import { parsePushHead, refusePush, type PushRequestHead } from './push-request.js';
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
  /** The head (shallow lines and commands) of each push, as far as it has arrived. */
  private readonly heads = new WeakMap<IncomingMessage, () => PushRequestHead | null | undefined>();
  /** Pushes already answered (accepted after a check, or refused by Slipway itself, without git). */
  private readonly answered = new WeakSet<IncomingMessage>();

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
      if (this.answered.has(action.req)) return;
      const app = this.creating.get(action.req);
      const head = this.heads.get(action.req)?.();
      if (app === undefined) {
        // node-git-server tells of a push once per pushed ref: the first is answered.
        this.answered.add(action.req);
        this.warnShallow(action, head).then(
          () => action.accept(),
          () => action.accept(),
        );
        return;
      }
      // git refuses a shallow clone's first push ("shallow update not allowed": the new repository
      // would lack the history below the clone's depth, and git's proc-receive hook, which every
      // deploy goes through, cannot take shallow updates). Refused here, it creates nothing.
      if (head && head.shallow.length > 0) {
        this.refuseShallow(action, app, head);
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
      this.heads.set(req, readHead(req));
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

  /**
   * Answers a shallow clone's first push the way git answers a refused push: one sentence as a
   * `remote:` line, and the refs rejected with a short reason. The body (the pack) is read and
   * dropped first, so the client, still sending it, gets the answer rather than a broken pipe.
   */
  private refuseShallow(action: PushAction, app: string, head: PushRequestHead): void {
    const { req, res } = action;
    this.answered.add(req);
    req.unpipe();
    req.resume();
    const message = errorLine(
      `This is a shallow clone (git clone --depth), and ${app} is new: its first push needs the whole history. Run \`git fetch --unshallow\` and push again (in CI, fetch the full history: e.g. actions/checkout with fetch-depth: 0).`,
    );
    const body = refusePush(head, [message], 'shallow clone; run git fetch --unshallow and push again');
    req.once('end', () => {
      if (res.headersSent) return;
      res.writeHead(200, {
        'content-type': 'application/x-git-receive-pack-result',
        'cache-control': 'no-cache, max-age=0, must-revalidate',
        'content-length': body.length,
      });
      res.end(body);
    });
  }

  /**
   * git refuses a shallow clone's push when the app lacks the history below the clone's depth
   * ("shallow update not allowed", and the proc-receive hook cannot take shallow updates). Only
   * git knows for sure (it depends on what the pack brings), so the push goes on; when one of the
   * clone's cut commits is missing here, a `remote:` line first says what to do if git refuses.
   */
  private async warnShallow(action: PushAction, head: PushRequestHead | null | undefined): Promise<void> {
    if (!head || head.shallow.length === 0 || !head.capabilities.includes('side-band-64k')) return;
    const app = this.repos.appFor(action.cwd);
    if (app === undefined) return;
    const missing = await this.repos.missingCommits(app, head.shallow);
    if (missing.length === 0) return;
    action.log(
      errorLine(
        `This is a shallow clone (git clone --depth) and ${app} lacks the history below its depth, so git may refuse it ("shallow update not allowed"): if so, run \`git fetch --unshallow\` and push again.`,
      ),
    );
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

/**
 * Reads the head of a push's body as it arrives, beside node-git-server (which reads the same
 * chunks), until it is complete. A compressed body is not read: git then decides alone.
 */
function readHead(req: IncomingMessage): () => PushRequestHead | null | undefined {
  if (req.headers['content-encoding'] !== undefined && req.headers['content-encoding'] !== 'identity') return () => null;
  let received = Buffer.alloc(0);
  let head: PushRequestHead | null | undefined;
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    head = parsePushHead(received);
    if (head !== undefined) {
      req.off('data', onData);
      received = Buffer.alloc(0);
    }
  };
  req.on('data', onData);
  return () => head;
}

/** What node-git-server hands its 'push' and 'tag' listeners (its typings do not say). */
interface PushAction {
  req: IncomingMessage;
  res: ServerResponse;
  /** The repository's directory. */
  cwd: string;
  /** Queues a side-band message, sent before git's answer. */
  log(message: string): void;
  accept(): void;
  reject(code: number, message: string): void;
  once(event: 'service', listener: (ps: ChildProcess) => void): void;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
