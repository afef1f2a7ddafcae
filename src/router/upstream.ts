import net from 'node:net';
import type { RouteTarget } from '../store/store.js';

/** What a connection passes on to the request that is using it. */
export interface UpstreamUser {
  onData(data: Buffer): void;
  onEnd(): void;
  onClose(error: NodeJS.ErrnoException | undefined): void;
  onDrain(): void;
}

/** An idle connection older than this is not reused: Node servers close theirs after 5 s. */
const IDLE_REUSE_MS = 4000;
const MAX_IDLE_PER_TARGET = 64;

/** One keep-alive connection to a container, carrying one request at a time. */
export class UpstreamConnection {
  readonly socket: net.Socket;
  user: UpstreamUser | undefined;
  /** Whether it already carried a request (a failure then may be a race with the app closing it). */
  reused = false;
  idleSince = 0;
  private error: NodeJS.ErrnoException | undefined;

  constructor(
    readonly key: string,
    target: RouteTarget,
    private readonly pool: UpstreamPool,
  ) {
    this.socket = net.connect({ port: target.port, host: target.host, noDelay: true });
    this.socket.on('data', (data: Buffer) => {
      if (this.user) this.user.onData(data);
      else this.socket.destroy(); // bytes nobody asked for: the connection cannot be trusted
    });
    this.socket.on('end', () => this.user?.onEnd());
    this.socket.on('drain', () => this.user?.onDrain());
    this.socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error));
    this.socket.on('close', () => {
      this.pool.forget(this);
      const user = this.user;
      this.user = undefined;
      user?.onClose(this.error);
    });
  }

  destroy(): void {
    this.user = undefined;
    this.socket.destroy();
  }
}

/** Keep-alive connections to containers, pooled per target (host:port), most recently used first. */
export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private readonly all = new Set<UpstreamConnection>();
  private closed = false;

  acquire(target: RouteTarget, key: string, user: UpstreamUser): UpstreamConnection {
    const list = this.idle.get(key);
    if (list !== undefined) {
      const now = Date.now();
      let conn: UpstreamConnection | undefined;
      while ((conn = list.pop()) !== undefined) {
        if (now - conn.idleSince < IDLE_REUSE_MS && !conn.socket.destroyed) {
          conn.reused = true;
          conn.user = user;
          return conn;
        }
        conn.destroy();
      }
    }
    const conn = new UpstreamConnection(key, target, this);
    this.all.add(conn);
    conn.user = user;
    return conn;
  }

  /** Takes back a connection whose response ended cleanly, for the next request to its target. */
  release(conn: UpstreamConnection): void {
    conn.user = undefined;
    if (this.closed || conn.socket.destroyed) {
      conn.destroy();
      return;
    }
    let list = this.idle.get(conn.key);
    if (list === undefined) this.idle.set(conn.key, (list = []));
    if (list.length >= MAX_IDLE_PER_TARGET) {
      conn.destroy();
      return;
    }
    conn.idleSince = Date.now();
    list.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    this.all.delete(conn);
    const list = this.idle.get(conn.key);
    if (list === undefined) return;
    const at = list.indexOf(conn);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.idle.delete(conn.key);
  }

  destroy(): void {
    this.closed = true;
    for (const conn of this.all) conn.destroy();
    this.all.clear();
    this.idle.clear();
  }
}
