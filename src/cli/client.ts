import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Connection } from './connection.js';
import { LineSplitter } from '../util/lines.js';
import { CliError, sentence } from './errors.js';

/** The JSON API, as the CLI uses it: every failure becomes the API's own sentence. */
export class ApiClient {
  constructor(readonly connection: Connection) {}

  async json<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    const res = await this.request(method, pathname, body);
    return (await res.json()) as T;
  }

  async text(pathname: string): Promise<string> {
    return (await this.request('GET', pathname)).text();
  }

  /** Copies a text response to `write` as it arrives (for following a running deployment). */
  async stream(pathname: string, write: (text: string) => void): Promise<void> {
    const res = await this.request('GET', pathname);
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) write(decoder.decode(chunk as Uint8Array, { stream: true }));
    write(decoder.decode());
  }

  /**
   * Runs a long operation (scale, restart, rollback): its progress lines go to `onLine` as the
   * server sends them; resolves with its result, or throws its failure as a CliError.
   */
  async operation<T>(pathname: string, body: unknown, onLine: (line: string) => void): Promise<T> {
    const res = await this.request('POST', pathname, body);
    let outcome: { result?: T; error?: string; message?: string } | undefined;
    const take = (line: string): void => {
      if (line.trim() === '') return;
      const event = JSON.parse(line) as { line?: string; result?: T; error?: string; message?: string };
      if (event.line !== undefined) onLine(event.line);
      else outcome = event;
    };
    // One JSON object per line, however long: a result is never cut.
    const lines = new LineSplitter(take, Number.POSITIVE_INFINITY);
    for await (const chunk of res.body ?? []) lines.write(chunk as Uint8Array);
    lines.end();
    if (!outcome) throw new CliError('The server stopped answering before the operation finished; check its state with slipway ps.');
    if (outcome.error !== undefined) throw new CliError(sentence(outcome.message ?? outcome.error));
    return outcome.result as T;
  }

  private async request(method: string, pathname: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.connection.url}${pathname}`, {
        method,
        headers: {
          authorization: `Bearer ${this.connection.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw this.unreachable((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message);
    }
    if (res.ok) return res;
    throw refusal(res.status, res.statusText, await res.text().catch(() => ''));
  }

  /**
   * Opens a two-way connection: `POST pathname` with `body` as JSON and `Upgrade: protocol`.
   * Resolves with the socket and the bytes that came with the 101; a refusal throws the API's sentence.
   */
  upgrade(pathname: string, protocol: string, body: unknown): Promise<{ socket: Duplex; head: Buffer }> {
    const payload = JSON.stringify(body);
    const url = new URL(`${this.connection.url}${pathname}`);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.connection.token}`,
          connection: 'Upgrade',
          upgrade: protocol,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      });
      req.on('upgrade', (_res, socket, head) => resolve({ socket, head }));
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => reject(refusal(res.statusCode ?? 0, res.statusMessage ?? '', text)));
        res.on('error', () => reject(refusal(res.statusCode ?? 0, res.statusMessage ?? '', text)));
      });
      req.on('error', (error: NodeJS.ErrnoException) => reject(this.unreachable(error.code ?? error.message)));
      req.end(payload);
    });
  }

  private unreachable(cause: string): CliError {
    return new CliError(`Cannot reach Slipway at ${this.connection.url} (${cause}); check SLIPWAY_URL or run "slipway login".`);
  }
}

/** A refused request as the CLI's sentence: the API's own message, or what to do about the token. */
function refusal(status: number, statusText: string, body: string): CliError {
  if (status === 401) {
    return new CliError('The token was refused: run "slipway login --url URL --token TOKEN" with a valid one, or set SLIPWAY_TOKEN.');
  }
  let message = `${status} ${statusText}`;
  try {
    const problem = JSON.parse(body) as { message?: string };
    if (problem.message) message = problem.message;
  } catch {
    // not JSON
  }
  return new CliError(sentence(message));
}
