import net from 'node:net';
import type { Identity } from '../auth/tokens.js';
import { DeployerClosedError, DeployRefused, type Deployer, type StartedDeployment } from '../deploy/deployer.js';
import { detailLine, errorLine, isOwnLine } from '../deploy/log.js';
import { closeSocketPath, listenOnSocketPath } from '../net/unix-socket.js';
import type { Repos } from './repos.js';

const ZERO_OID = /^0+$/;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const DEPLOY_BRANCHES = new Set(['refs/heads/main', 'refs/heads/master']);

function branchName(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

function short(commit: string | null): string {
  return commit === null ? 'nothing (no branch)' : commit.slice(0, 7);
}

interface PushCommand {
  oldOid: string;
  newOid: string;
  ref: string;
}

export interface RelayAccess {
  /**
   * Who pushed, by the pid the hook sends: its parent process (hooks/proc-receive execs the
   * relay, so that parent is the git-receive-pack the server spawned for an authenticated push
   * and keeps, while it runs, with the token's identity). Undefined for a pid it did not spawn.
   */
  pusherOf(pid: number): Identity | undefined;
  stillValid(identity: Identity): boolean;
  onError(error: unknown): void;
}

interface RefResult {
  ref: string;
  ok: boolean;
  reason?: string;
}

/**
 * The server's end of `hooks/proc-receive`: a unix socket that takes the pushed commands,
 * runs the deployments, streams every output line back while it happens, and ends with one
 * verdict per ref. The deployment goes on if the client disappears, and its log stays readable.
 */
export class HookRelay {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly repos: Repos,
    private readonly deployer: Deployer,
    private readonly access: RelayAccess,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return listenOnSocketPath(this.server, this.socketPath);
  }

  close(): Promise<void> {
    return closeSocketPath(this.server, this.socketPath, this.sockets);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let input = '';
    const onData = (chunk: Buffer): void => {
      input += chunk.toString('utf8');
      const newline = input.indexOf('\n');
      if (newline === -1) {
        if (input.length > 1_000_000) socket.destroy();
        return;
      }
      socket.off('data', onData);
      this.serve(socket, input.slice(0, newline)).catch((error: unknown) => {
        this.access.onError(error);
        socket.destroy();
      });
    };
    socket.on('data', onData);
  }

  private async serve(socket: net.Socket, request: string): Promise<void> {
    // A client slower than the output (a hook printing 100 MB, say) must not grow the server's
    // memory: past a bound, lines are counted instead of queued, and the count is reported.
    let skipped = 0;
    const send = (message: object): void => {
      if (socket.destroyed) return;
      socket.write(`${JSON.stringify(message)}\n`);
    };
    const sendLine = (text: string): void => {
      if (socket.destroyed) return;
      if (!isOwnLine(text) && socket.writableLength > MAX_QUEUED_BYTES) {
        skipped++;
        return;
      }
      if (skipped > 0) {
        send({
          type: 'line',
          text: detailLine(`... ${skipped} lines not shown: the connection could not keep up (the full log is in the API, up to its limit)`),
        });
        skipped = 0;
      }
      send({ type: 'line', text });
    };
    const { gitDir, commands, pusherPid } = JSON.parse(request) as { gitDir: string; commands: PushCommand[]; pusherPid?: number };
    const pusher = pusherPid === undefined ? undefined : this.access.pusherOf(pusherPid);
    const app = this.repos.appFor(gitDir);
    const results: RefResult[] = [];
    let deployBranch: string | undefined;
    for (const command of commands) {
      if (!app) {
        results.push({ ref: command.ref, ok: false, reason: 'not a Slipway repository' });
        continue;
      }
      // main and master in one push would deploy one after the other, and leave the first
      // naming a commit that does not serve: the second is refused.
      if (DEPLOY_BRANCHES.has(command.ref) && !ZERO_OID.test(command.newOid)) {
        if (deployBranch !== undefined) {
          const [first, second] = [branchName(deployBranch), branchName(command.ref)];
          sendLine(errorLine(`${second} is not deployed: push one deploy branch at a time (${first} was pushed with it, and ${app} deploys from ${first}).`));
          results.push({ ref: command.ref, ok: false, reason: `one deploy branch per push; ${first} was deployed` });
          continue;
        }
        deployBranch = command.ref;
      }
      results.push(await this.handle(app, gitDir, command, pusher, sendLine));
    }
    send({ type: 'result', refs: results });
    socket.end();
  }

  private async handle(app: string, gitDir: string, command: PushCommand, pusher: Identity | undefined, say: (line: string) => void): Promise<RefResult> {
    const branch = command.ref.replace(/^refs\/heads\//, '');
    if (!DEPLOY_BRANCHES.has(command.ref)) {
      say(errorLine(`${branch} is not deployed: only main and master deploy. Push your branch as main: git push deploy ${branch}:main`));
      return { ref: command.ref, ok: false, reason: 'only main and master deploy; run git push deploy HEAD:main' };
    }
    if (ZERO_OID.test(command.newOid)) {
      say(errorLine(`Deleting ${branch} is refused: it is what ${app} deploys from. Push a commit to it instead.`));
      return { ref: command.ref, ok: false, reason: `deleting ${branch} is refused; push a commit instead` };
    }
    let started: StartedDeployment;
    let refusal: DeployRefused | undefined;
    try {
      started = this.deployer.deploy(
        {
          app,
          gitDir,
          ref: command.ref,
          commit: command.newOid,
          pushedBy: pusher?.name ?? null,
          admit: async (log, deployment) => {
            try {
              return await this.admit(app, deployment.id, command, pusher, log);
            } catch (error) {
              if (error instanceof DeployRefused) refusal = error;
              throw error;
            }
          },
        },
        say,
      );
    } catch (error) {
      if (error instanceof DeployerClosedError) {
        say(errorLine(error.message));
        return { ref: command.ref, ok: false, reason: error.gitReason };
      }
      // The store could not record the deployment (disk full, read-only): nothing was started.
      say(
        errorLine(
          `Slipway could not record this deployment (${error instanceof Error ? error.message : String(error)}); check the server's disk and push again.`,
        ),
      );
      return { ref: command.ref, ok: false, reason: 'the server could not record the deployment' };
    }
    const status = await started.done;
    if (status === 'success') return { ref: command.ref, ok: true };
    return { ref: command.ref, ok: false, reason: refusal?.gitReason ?? status };
  }

  /**
   * When the push's turn comes: its token must still be valid, the app must deploy from this
   * branch, and the branch must still be at the commit the push saw (a compare-and-swap), unless
   * the push was forced; a push that rewinds the branch says so.
   */
  private async admit(
    app: string,
    id: number,
    command: PushCommand,
    pusher: Identity | undefined,
    log: { phase(text: string): void },
  ): Promise<{ base: string | null }> {
    if (pusher !== undefined && !this.access.stillValid(pusher)) {
      throw new DeployRefused(`The token "${pusher.name}" that pushed deployment ${id} was revoked before it ran; push again with a valid token`);
    }
    const branch = branchName(command.ref);
    const other = command.ref === 'refs/heads/main' ? 'refs/heads/master' : 'refs/heads/main';
    const current = await this.repos.branchCommit(app, command.ref);
    if (current === null && (await this.repos.branchCommit(app, other)) !== null) {
      throw new DeployRefused(
        `${app} deploys from ${branchName(other)}, so ${branch} is not deployed; push to ${branchName(other)}: git push deploy ${branch}:${branchName(other)}`,
        `${app} deploys from ${branchName(other)}`,
      );
    }
    const saw = ZERO_OID.test(command.oldOid) ? null : command.oldOid;
    if (current !== saw) {
      // git lets a client send a commit that does not contain what it saw only when forced.
      const forced = saw !== null && !(await this.repos.contains(app, command.newOid, saw));
      if (!forced) {
        throw new DeployRefused(
          `${branch} is at ${short(current)}, not at ${short(saw)} as when this push started: another push moved it meanwhile, and deploying this one would drop its commits. Nothing was deployed; fetch first (git pull), then push again`,
          'fetch first',
        );
      }
    }
    if (current !== null && !(await this.repos.contains(app, command.newOid, current))) {
      log.phase(
        `Rewinding ${branch} from ${short(current)} to ${short(command.newOid)} (a forced push: commits of ${short(current)} that ${short(command.newOid)} lacks leave the branch)`,
      );
    }
    return { base: current };
  }
}
