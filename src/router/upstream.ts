import net from 'node:net';
import type { RouteTarget } from '../store/store.js';

/** What a connection passes on to the request that is using it. */
export interface UpstreamUser {
  /** `data` lies in the connection's read buffer: copy what is kept, or call `hold`. */
  onData(data: Buffer): void;
  onEnd(): void;
  onClose(error: NodeJS.ErrnoException | undefined): void;
  onDrain(): void;
  /** One of the callbacks above threw: the connection is already closed. */
  onCrash(error: unknown): void;
}

/** An idle connection older than this is not reused: Node servers close theirs after 5 s. */
const IDLE_REUSE_MS = 4000;
const MAX_IDLE_PER_TARGET = 64;
/** Node's own read size: a 1 MB response comes in 16 reads. */
const READ_SIZE = 64 * 1024;

/** One keep-alive connection to a container, carrying one request at a time. */
export class UpstreamConnection {
  readonly socket: net.Socket;
  user: UpstreamUser | undefined;
  /** Whether it already carried a request (a failure then may be a race with the app closing it). */
  reused = false;
  idleSince = 0;
  private error: NodeJS.ErrnoException | undefined;
  /**
   * Every read lands here, rather than in a new 64 KB buffer each time as Node does by default:
   * at a gigabyte a second those buffers, freed only by garbage collection, set off several full
   * collections a second. A user that keeps the bytes it was given
   * (a write to the client that did not go out at once) calls `hold`, and the next read goes
   * into a new buffer. 64 KB per pooled connection, about what nginx's proxy buffers take for
   * each request; idle connections last until the app closes them (5 s for Node's servers).
   */
  private buffer = Buffer.allocUnsafe(READ_SIZE);
  private held = false;

  private readonly onEnd = (): void => this.call((user) => user.onEnd());
  private readonly onDrain = (): void => this.call((user) => user.onDrain());
  private readonly onError = (error: NodeJS.ErrnoException): void => void (this.error = error);
  private readonly onPlainData = (data: Buffer): void => void this.read(data);
  private readonly onClose = (): void => {
    this.pool.forget(this);
    const user = this.user;
    this.user = undefined;
    if (user === undefined) return;
    try {
      user.onClose(this.error);
    } catch (error) {
      user.onCrash(error);
    }
  };

  /**
   * `plain`: a connection that may become a tunnel (an upgrade request), read through 'data'
   * events so that `detach` can hand its socket to a pipe.
   */
  constructor(
    readonly key: string,
    target: RouteTarget,
    private readonly pool: UpstreamPool,
    plain = false,
  ) {
    this.socket = plain
      ? net.connect({ port: target.port, host: target.host, noDelay: true })
      : net.connect({
          port: target.port,
          host: target.host,
          noDelay: true,
          // The callback's buffer is the one nextBuffer returned last.
          onread: { buffer: () => this.nextBuffer(), callback: (length) => this.read(this.buffer.subarray(0, length)) },
        });
    if (plain) this.socket.on('data', this.onPlainData);
    this.socket.on('end', this.onEnd);
    this.socket.on('drain', this.onDrain);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
  }

  /** Gives up the socket (it becomes a tunnel): no longer listened to, pooled or destroyed here. */
  detach(): net.Socket {
    this.user = undefined;
    this.pool.forget(this);
    this.socket.off('data', this.onPlainData);
    this.socket.off('end', this.onEnd);
    this.socket.off('drain', this.onDrain);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    return this.socket;
  }

  /** Calls the user; if it throws, the connection closes and the user hears why. */
  private call(callback: (user: UpstreamUser) => void): void {
    const user = this.user;
    if (user === undefined) return;
    try {
      callback(user);
    } catch (error) {
      this.destroy();
      user.onCrash(error);
    }
  }

  /** The bytes last given to `onData` are still in use after it returned: do not read over them. */
  hold(): void {
    this.held = true;
  }

  destroy(): void {
    this.user = undefined;
    this.socket.destroy();
  }

  /** Always true: reading goes on unless the user pauses the socket. */
  private read(data: Buffer): boolean {
    if (this.user) this.call((user) => user.onData(data));
    else this.socket.destroy(); // bytes nobody asked for: the connection cannot be trusted
    return true;
  }

  private nextBuffer(): Buffer {
    if (this.held) {
      this.held = false;
      this.buffer = Buffer.allocUnsafe(READ_SIZE);
    }
    return this.buffer;
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

  /** A connection of its own, never pooled: for an upgrade request, which may become a tunnel. */
  connect(target: RouteTarget, key: string, user: UpstreamUser): UpstreamConnection {
    const conn = new UpstreamConnection(key, target, this, true);
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
