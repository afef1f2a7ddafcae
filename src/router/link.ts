import net from 'node:net';
import { closeSocketPath, listenOnSocketPath } from '../net/unix-socket.js';
import type { RouteTarget } from '../store/store.js';
import { onMessages, sendMessage } from './channel.js';
import type { Directory, RouterHandle } from './handle.js';
import type { AppTraffic } from './access.js';
import type { CertificateMessage, ChallengeMessage, RouteRecordMessage, RouterCommand, RouterReply, RouterReport, RouterRequest } from './messages.js';

interface Connection {
  socket: net.Socket;
  pending: Map<number, () => void>;
}

/**
 * The server's side of its channel to the router process (a unix socket in the data directory,
 * which the router connects to and reconnects to). The server keeps what the routers must know,
 * gives it whole to each router that connects, then every change; a change resolves once every
 * connected router applied it (two are connected while one replaces the other). With no router
 * connected, changes resolve at once: a router that starts reads the recorded routes, then
 * connects and gets the rest.
 */
export class RouterLink implements RouterHandle {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly routes = new Map<string, RouteRecordMessage>();
  private directory: Directory = { apps: [], domains: [], maintenance: [] };
  private certificates: CertificateMessage[] = [];
  private challenges: ChallengeMessage[] = [];
  private followed: string[] = [];
  private nextId = 1;
  private requestListener: ((traffic: AppTraffic[]) => void) | undefined;
  private onSynced!: () => void;
  /** Settles once a router has applied the whole state (or gone away while applying it). */
  private readonly firstSync = new Promise<void>((resolve) => (this.onSynced = resolve));

  constructor(
    private readonly socketPath: string,
    private readonly log: (line: string) => void,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return listenOnSocketPath(this.server, this.socketPath);
  }

  /** Where the routers' requests go, summed per app with their lines (access logs, metrics). */
  onRequests(listener: (traffic: AppTraffic[]) => void): void {
    this.requestListener = listener;
  }

  /**
   * Resolves once a connected router has the whole state, or after `timeoutMs`: a server that
   * starts answers its API only then, so that a change it acknowledges is one the router has.
   */
  synced(timeoutMs: number): Promise<void> {
    return atMost(this.firstSync, timeoutMs);
  }

  /** How many router processes are connected. */
  get connected(): number {
    return this.connections.size;
  }

  async switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void> {
    this.routes.set(app, { app, deployment, targets });
    await this.broadcast({ type: 'route', app, deployment, targets });
  }

  async drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void> {
    await this.broadcast({ type: 'drain', targets: [...targets], timeoutMs });
  }

  takeOut(target: RouteTarget): void {
    void this.broadcast({ type: 'take-out', target });
  }

  async setDirectory(directory: Directory): Promise<void> {
    this.directory = directory;
    const apps = new Set(directory.apps);
    // What a router that connects later is told: deleted apps' routes are not (its own table
    // drops them when it applies the directory).
    for (const app of this.routes.keys()) if (!apps.has(app)) this.routes.delete(app);
    await this.broadcast({ type: 'directory', directory });
  }

  async setCertificates(certificates: CertificateMessage[]): Promise<void> {
    this.certificates = certificates;
    await this.broadcast({ type: 'certificates', certificates });
  }

  async setChallenges(challenges: ChallengeMessage[]): Promise<void> {
    this.challenges = challenges;
    await this.broadcast({ type: 'challenges', challenges });
  }

  /** The apps whose every access line the routers should send (someone follows them). */
  async follow(apps: string[]): Promise<void> {
    this.followed = apps;
    await this.broadcast({ type: 'follow', apps });
  }

  /**
   * Asks every router for the access lines it holds: once this resolves they are in (each router
   * sends them before it answers). A router that does not answer within `timeoutMs` is not waited for.
   */
  sendLines(timeoutMs: number): Promise<void> {
    return atMost(this.broadcast({ type: 'send-lines' }), timeoutMs);
  }

  /** Closes the channel; the routers keep serving their last routes and reconnect to the next server. */
  close(): Promise<void> {
    return closeSocketPath(
      this.server,
      this.socketPath,
      [...this.connections].map((connection) => connection.socket),
    );
  }

  private accept(socket: net.Socket): void {
    const connection: Connection = { socket, pending: new Map() };
    this.connections.add(connection);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.connections.delete(connection);
      // A router that went away has nothing left to apply; a new one gets the whole state.
      for (const resolve of connection.pending.values()) resolve();
      connection.pending.clear();
    });
    onMessages<RouterReply | RouterReport>(
      socket,
      (reply) => {
        if (reply.type === 'requests') {
          if (Array.isArray(reply.traffic)) this.requestListener?.(reply.traffic);
          return;
        }
        const resolve = connection.pending.get(reply.id);
        if (!resolve) return;
        connection.pending.delete(reply.id);
        if (reply.type === 'failed') this.log(`router: ${reply.message}`);
        resolve();
      },
      (line) => this.log(`router: unreadable message ${JSON.stringify(line.slice(0, 100))}`),
    );
    void this.send(connection, {
      type: 'state',
      directory: this.directory,
      routes: [...this.routes.values()],
      certificates: this.certificates,
      challenges: this.challenges,
      followed: this.followed,
    }).then(() => this.onSynced());
  }

  private broadcast(command: RouterCommand): Promise<unknown> {
    return Promise.all([...this.connections].map((c) => this.send(c, command)));
  }

  private send(connection: Connection, command: RouterCommand): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      connection.pending.set(id, resolve);
      sendMessage(connection.socket, { ...command, id } satisfies RouterRequest);
    });
  }
}

/** Resolves when `done` does, or after `timeoutMs`, whichever comes first. */
async function atMost(done: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
