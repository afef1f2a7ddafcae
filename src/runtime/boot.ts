import net from 'node:net';

/** Resolves once something accepts a TCP connection on 127.0.0.1:port; stops when aborted. */
export async function waitForPort(port: number, signal: AbortSignal, intervalMs = 20): Promise<void> {
  while (!signal.aborted) {
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
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
