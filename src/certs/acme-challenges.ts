import type { ChallengeMessage } from '../router/messages.js';

/**
 * The HTTP-01 challenges being answered right now: the one owner of the set the routers serve.
 * Every change sends the whole set (the router channel replaces, never merges), and an answer is
 * published before the ACME server is told to look for it.
 */
export class ChallengeBoard {
  private readonly answers = new Map<string, string>();
  /** Publications in order: a later set never overtakes an earlier one. */
  private published: Promise<void> = Promise.resolve();

  constructor(private readonly publish: (challenges: ChallengeMessage[]) => Promise<void>) {}

  /** Serves `keyAuthorization` at /.well-known/acme-challenge/<token> while `during` runs. */
  async answer<T>(token: string, keyAuthorization: string, during: () => Promise<T>): Promise<T> {
    this.answers.set(token, keyAuthorization);
    try {
      await this.send();
      return await during();
    } finally {
      this.answers.delete(token);
      // Withdrawing is tidiness: a failure to say so must not turn an issued certificate into an error.
      await this.send().catch(() => undefined);
    }
  }

  /** The tokens answered now (for tests and status). */
  tokens(): string[] {
    return [...this.answers.keys()];
  }

  private send(): Promise<void> {
    const snapshot: ChallengeMessage[] = [...this.answers];
    const next = this.published.catch(() => undefined).then(() => this.publish(snapshot));
    this.published = next;
    return next;
  }
}
