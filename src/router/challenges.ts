/**
 * ACME HTTP-01 challenges (RFC 8555 §8.3): the router answers
 * `GET /.well-known/acme-challenge/<token>` with the key authorization itself, for any Host and
 * before routing, so a certificate can be ordered for a domain before its app runs.
 */
import type { Sink } from './response.js';

export const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/** The token a request asks for when its path is a challenge's, else undefined. */
export function challengeToken(url: string): string | undefined {
  if (!url.startsWith(CHALLENGE_PATH)) return undefined;
  const end = url.indexOf('?');
  return url.slice(CHALLENGE_PATH.length, end === -1 ? undefined : end);
}

/** The key authorization for a known token (200, text/plain), else 404. */
export function answerChallenge(res: Sink, keyAuthorization: string | undefined): void {
  const body = keyAuthorization ?? 'No such ACME challenge.\n';
  res.writeHead(keyAuthorization === undefined ? 404 : 200, [
    'content-type',
    'text/plain',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ]);
  res.end(body);
}

/** The router's copy of the challenges to answer, replaced whole by each `challenges` command. */
export class ChallengeView {
  private answers = new Map<string, string>();

  readonly answer = (token: string): string | undefined => this.answers.get(token);

  current(): [string, string][] {
    return [...this.answers];
  }

  apply(challenges: readonly (readonly [string, string])[]): void {
    this.answers = new Map(challenges);
  }
}
