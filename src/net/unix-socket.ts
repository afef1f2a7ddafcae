import { rm } from 'node:fs/promises';
import type net from 'node:net';

/**
 * Listens on a unix socket path. A socket file left by a server that crashed (or was SIGKILLed)
 * would make listen() fail with EADDRINUSE although nothing listens there, so it is removed first.
 */
export async function listenOnSocketPath(server: net.Server, socketPath: string): Promise<void> {
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops listening once `connections` are destroyed (server.close() waits for every open one), and
 * removes the socket file, so that the next start finds none.
 */
export async function closeSocketPath(server: net.Server, socketPath: string, connections: Iterable<net.Socket>): Promise<void> {
  for (const socket of connections) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(socketPath, { force: true });
}
