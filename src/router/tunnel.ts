/** An upgraded connection (a WebSocket, say): once the app has answered 101, bytes go both ways. */
import type net from 'node:net';

/**
 * Joins the client's socket to the app's: `bytes` (the app's 101 and whatever followed it) go
 * to the client, `rest` (what the client sent after its request) to the app, then both pipe
 * until either side closes; `onClose` runs once then. Returns a function that closes the tunnel.
 */
export function openTunnel(client: net.Socket, rest: Buffer, upstream: net.Socket, bytes: Buffer, onClose: () => void): () => void {
  let ended = false;
  const close = (): void => {
    if (!ended) {
      ended = true;
      onClose();
    }
    upstream.destroy();
    client.destroy();
  };
  upstream.on('error', close);
  upstream.once('close', close);
  client.on('error', close);
  client.once('close', close);
  client.write(bytes);
  if (rest.length > 0) upstream.write(rest);
  upstream.pipe(client);
  client.pipe(upstream);
  return close;
}
