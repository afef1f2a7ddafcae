import type { ServerResponse } from 'node:http';
import { DeployLog } from '../deploy/log.js';

/**
 * What a handler answers: JSON, text, a live deployment log, or — for endpoints that stream
 * both ways (`run`) — the raw response, which the handler then owns.
 */
export type Reply = { status?: number; json: unknown } | { status?: number; text: string } | { stream: DeployLog } | { operation: Operation } | { raw: true };

/**
 * A long change (scale, restart, rollback), answered as NDJSON while it runs: `{"line": …}` for
 * each progress line, then one `{"result": …}`, or `{"error": code, "message": …}` if it failed.
 * The operation goes on if the client leaves.
 */
export type Operation = (log: DeployLog) => Promise<unknown>;

/** How a failed operation is reported: a stable code and a sentence. */
export interface OperationFailure {
  code: string;
  message: string;
  /** What explains it (a container's last lines), sent as progress lines before the error. */
  lines: readonly string[];
}

export function send(res: ServerResponse, reply: Reply, describeFailure: (error: unknown) => OperationFailure): void {
  if ('raw' in reply) return;
  if ('operation' in reply) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
    const log = new DeployLog();
    const write = (value: object): void => {
      if (!res.destroyed) res.write(`${JSON.stringify(value)}\n`);
    };
    log.onLine((line) => write({ line }));
    reply
      .operation(log)
      .then(
        (result) => write({ result }),
        (error: unknown) => {
          const failure = describeFailure(error);
          for (const line of failure.lines) log.detail(line);
          write({ error: failure.code, message: failure.message });
        },
      )
      .finally(() => {
        log.end();
        res.end();
      });
    return;
  }
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
