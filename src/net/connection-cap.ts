import type net from 'node:net';

/**
 * How many connections one client address may hold open at once, on the router port and on the
 * API/git port. Browsers open 6 per host, a busy CI runner a few dozen; 256 leaves room for NAT
 * while stopping one client from taking every file descriptor the server has.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;

const REFUSAL = 'Too many connections from your address; close some and try again.\n';
const REFUSED = `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${REFUSAL.length}\r\n\r\n${REFUSAL}`;

/** Counts open connections per client address and refuses those over the cap. */
export class ConnectionCap {
  private readonly open = new Map<string, number>();

  /** `max` 0 means no cap. */
  constructor(private readonly max: number = DEFAULT_MAX_CONNECTIONS_PER_CLIENT) {}

  /**
   * Counts `socket` against its address until it closes, and returns true; or, when the address
   * already holds `max` connections, answers 503, closes it and returns false. `answer` false:
   * closed without a word (a TLS port, where no HTTP can be said before the handshake).
   */
  admit(socket: net.Socket, answer = true): boolean {
    if (this.max <= 0) return true;
    const address = socket.remoteAddress ?? '';
    const count = this.open.get(address) ?? 0;
    if (count >= this.max && !answer) {
      socket.destroy();
      return false;
    }
    if (count >= this.max) {
      socket.on('error', () => socket.destroy());
      socket.end(REFUSED, 'latin1');
      // A client that does not read must not keep the socket half-closed.
      socket.setTimeout(5000, () => socket.destroy());
      return false;
    }
    this.open.set(address, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    });
    return true;
  }

  /** Connections open from `address` (for tests and diagnostics). */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
