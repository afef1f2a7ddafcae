import { rm } from 'node:fs/promises';
import net from 'node:net';
import type { Identity } from '../auth/tokens.js';
import type { Deployer, StartedDeployment } from '../deploy/deployer.js';
import { detailLine, errorLine, isOwnLine } from '../deploy/log.js';
import type { Repos } from './repos.js';

const ZERO_OID = /^0+$/;
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const DEPLOY_BRANCHES = new Set(['refs/heads/main', 'refs/heads/master']);

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

  async listen(): Promise<void> {
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
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
        send({ type: 'line', text: detailLine(`... ${skipped} lines not shown: the connection could not keep up (the full log is in the API, up to its limit)`) });
        skipped = 0;
      }
      send({ type: 'line', text });
    };
    const { gitDir, commands, pusherPid } = JSON.parse(request) as { gitDir: string; commands: PushCommand[]; pusherPid?: number };
    const pusher = pusherPid === undefined ? undefined : this.access.pusherOf(pusherPid);
    const app = this.repos.appFor(gitDir);
    const results: RefResult[] = [];
    for (const command of commands) {
      if (!app) {
        results.push({ ref: command.ref, ok: false, reason: 'not a Slipway repository' });
        continue;
      }
      results.push(await this.handle(app, gitDir, command, pusher, sendLine));
    }
    send({ type: 'result', refs: results });
    socket.end();
  }

  private async handle(
    app: string,
    gitDir: string,
    command: PushCommand,
    pusher: Identity | undefined,
    say: (line: string) => void,
  ): Promise<RefResult> {
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
    try {
      started = this.deployer.deploy(
        {
          app,
          gitDir,
          ref: command.ref,
          commit: command.newOid,
          pushedBy: pusher?.name ?? null,
          // A token revoked while its push waited in the queue no longer deploys.
          stillAuthorized: () => pusher === undefined || this.access.stillValid(pusher),
        },
        say,
      );
    } catch (error) {
      // The store could not record the deployment (disk full, read-only): nothing was started.
      say(errorLine(`Slipway could not record this deployment (${error instanceof Error ? error.message : String(error)}); check the server's disk and push again.`));
      return { ref: command.ref, ok: false, reason: 'the server could not record the deployment' };
    }
    const status = await started.done;
    return status === 'success' ? { ref: command.ref, ok: true } : { ref: command.ref, ok: false, reason: status };
  }
}
