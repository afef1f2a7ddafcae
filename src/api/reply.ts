import type { ServerResponse } from 'node:http';
import type { DeployLog } from '../deploy/log.js';

/**
 * What a handler answers: JSON, text, a live deployment log, or — for endpoints that stream
 * both ways (`run`) — the raw response, which the handler then owns.
 */
export type Reply =
  | { status?: number; json: unknown }
  | { status?: number; text: string }
  | { stream: DeployLog }
  | { raw: true };

export function send(res: ServerResponse, reply: Reply): void {
  if ('raw' in reply) return;
  if ('stream' in reply) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    const stop = reply.stream.follow((line) => res.write(`${line}\n`));
    const stopEnd = reply.stream.onEnd(() => {
      stop();
      res.end();
    });
    res.on('close', () => {
      stop();
      stopEnd();
    });
    return;
  }
  const status = reply.status ?? 200;
  if ('text' in reply) {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(reply.text) });
    res.end(reply.text);
    return;
  }
  const body = `${JSON.stringify(reply.json)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
