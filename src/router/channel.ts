import type net from 'node:net';
import readline from 'node:readline';

/**
 * One JSON message per line over a local socket: the server's channel to the router process.
 * (Messages are small and few, a line each; readline does the framing.)
 */
export function onMessages<T>(socket: net.Socket, handle: (message: T) => void, onBad: (line: string) => void): void {
  const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
  // readline repeats the socket's errors; the socket's own 'close' is what its owner acts on.
  lines.on('error', () => undefined);
  lines.on('line', (line) => {
    let message: T;
    try {
      message = JSON.parse(line) as T;
    } catch {
      onBad(line);
      return;
    }
    handle(message);
  });
}

export function sendMessage(socket: net.Socket, message: unknown): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
}
