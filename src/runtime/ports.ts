import net from 'node:net';

/**
 * Hands out host ports for containers. A port is free when no live reservation holds it and
 * nothing on the host listens on it (host networking: containers bind host ports directly).
 */
export class PortAllocator {
  private readonly reserved = new Set<number>();

  /**
   * The default range lies below Linux's ephemeral ports (32768–60999), which outgoing
   * connections take at random: a port chosen there could be taken between the check and the
   * container's bind.
   */
  constructor(
    private readonly first = 20000,
    private readonly last = 32767,
    private readonly random: () => number = Math.random,
  ) {}

  async allocate(): Promise<number> {
    const span = this.last - this.first + 1;
    for (let attempt = 0; attempt < 200; attempt++) {
      const port = this.first + Math.floor(this.random() * span);
      if (this.reserved.has(port)) continue;
      this.reserved.add(port);
      if (await isBindable(port)) return port;
      this.reserved.delete(port);
    }
    throw new Error(`no free port between ${this.first} and ${this.last}; stop some containers or widen the range`);
  }

  /** Marks a port as taken (e.g. by a container found running at startup). */
  hold(port: number): void {
    this.reserved.add(port);
  }

  release(port: number): void {
    this.reserved.delete(port);
  }
}

function isBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
