import type { Connection } from './connection.js';
import { CliError } from './errors.js';

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
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`Cannot reach Slipway at ${this.connection.url} (${cause}); check SLIPWAY_URL or run "slipway login".`);
    }
    if (res.ok) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const problem = (await res.json()) as { message?: string };
      if (problem.message) message = problem.message;
    } catch {
      // not JSON
    }
    if (res.status === 401) {
      throw new CliError('The token was refused: run "slipway login --url URL --token TOKEN" with a valid one, or set SLIPWAY_TOKEN.');
    }
    throw new CliError(`${message.charAt(0).toUpperCase()}${message.slice(1)}.`.replace(/\.\.$/, '.'));
  }
}
