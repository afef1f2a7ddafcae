/** What ClientExchanges asks of an exchange. */
export interface InFlight {
  /** Whether it is still waiting for its response head at `now`, past its deadline. */
  isLate(now: number): boolean;
}

/**
 * The exchanges in flight on one client connection. HTTP/1.1 clients almost always have one at a
 * time, so that one lives in a field and a Set is made only for more (pipelining through Node's
 * HTTP server). Adding to and deleting from a long-lived Set on every request would rebuild its
 * hash table every few requests, and V8's young-generation collections keep whatever a dead
 * table held in the old generation alive: under load the router's per-request garbage was
 * promoted by the megabyte, with full collections every second or two (README, Router).
 */
export class ClientExchanges<T extends InFlight> {
  private one: T | undefined;
  private more: Set<T> | undefined;

  add(exchange: T): void {
    if (this.one === undefined) this.one = exchange;
    else (this.more ??= new Set()).add(exchange);
  }

  delete(exchange: T): void {
    if (this.one === exchange) this.one = undefined;
    else this.more?.delete(exchange);
  }

  /** A copy: ending an exchange deletes it from here. */
  list(): T[] {
    const all = this.more === undefined ? [] : [...this.more];
    if (this.one !== undefined) all.unshift(this.one);
    return all;
  }

  /** Appends the exchanges whose upstream did not answer by their deadline to `into`. */
  late(now: number, into: T[]): void {
    if (this.one?.isLate(now)) into.push(this.one);
    if (this.more !== undefined) for (const exchange of this.more) if (exchange.isLate(now)) into.push(exchange);
  }
}
