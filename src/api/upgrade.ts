import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { MAX_BODY_BYTES, parseJsonObject } from './body.js';
import { ApiError } from './errors.js';

/** A request body slower than this is given up: nothing else bounds a connection past its headers. */
const BODY_TIMEOUT_MS = 30_000;

/**
 * Reads the JSON object sent with an Upgrade request (with a Content-Length, like a POST's),
 * from the bytes after its headers and then the socket. `rest` is whatever followed it.
 * Leaves the socket paused: resume it once listening.
 */
export async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Record<string, unknown>; rest: Buffer }> {
  if (req.headers['transfer-encoding'] !== undefined) {
    throw new ApiError(411, 'length_required', 'send the JSON body with a Content-Length header, not chunked');
  }
  const length = Number(req.headers['content-length'] ?? '0');
  if (!Number.isSafeInteger(length) || length < 0) throw new ApiError(400, 'invalid_length', 'the Content-Length header is not a byte count');
  if (length > MAX_BODY_BYTES) {
    throw new ApiError(413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes; send a smaller JSON object`);
  }
  const bytes = await readAtLeast(socket, head, length);
  return { body: parseJsonObject(bytes.subarray(0, length)), rest: bytes.subarray(length) };
}

/** Answers 101: from now on the socket speaks `protocol`. */
export function acceptUpgrade(socket: Duplex, protocol: string, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${protocol}\r\n${extra.join('')}\r\n`);
}

/** Answers an Upgrade request with an API error, as JSON like every other, and closes. */
export function refuseUpgrade(socket: Duplex, error: ApiError): void {
  if (socket.destroyed) return;
  const body = `${JSON.stringify({ error: error.code, message: error.message })}\n`;
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // Unread request bytes would turn the close into a reset, which can beat the answer to the client.
  socket.resume();
  setTimeout(() => socket.destroy(), BODY_TIMEOUT_MS).unref();
}

function readAtLeast(socket: Duplex, head: Buffer, length: number): Promise<Buffer> {
  if (head.length >= length) {
    socket.pause();
    return Promise.resolve(head);
  }
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let size = head.length;
    const finish = (error?: ApiError): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= length) finish();
    };
    const onEnd = (): void =>
      finish(new ApiError(400, 'incomplete_body', 'the connection ended before the request body did; send all its Content-Length bytes'));
    const timer = setTimeout(() => {
      const seconds = BODY_TIMEOUT_MS / 1000;
      finish(new ApiError(408, 'request_timeout', `the request body did not arrive within ${seconds} s; send it right after the headers`));
    }, BODY_TIMEOUT_MS);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}
