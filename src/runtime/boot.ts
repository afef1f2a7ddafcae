import net from 'node:net';

/** Resolves once something accepts a TCP connection on host:port; stops when aborted. */
export async function waitForPort(port: number, signal: AbortSignal, intervalMs = 20, host = '127.0.0.1'): Promise<void> {
  while (!signal.aborted) {
    if (await canConnect(port, host)) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether something accepts a TCP connection on host:port right now. */
export function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
