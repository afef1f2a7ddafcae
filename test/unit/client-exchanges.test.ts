import { ClientExchanges, type InFlight } from '../../src/router/client-exchanges.js';

class Fake implements InFlight {
  constructor(
    readonly name: string,
    private readonly deadline: number,
  ) {}

  isLate(now: number): boolean {
    return this.deadline <= now;
  }
}

const names = (list: Fake[]): string[] => list.map((e) => e.name);

describe('ClientExchanges', () => {
  test('holds one exchange, then more, and lists them oldest first', () => {
    const exchanges = new ClientExchanges<Fake>();
    const [a, b, c] = [new Fake('a', 10), new Fake('b', 20), new Fake('c', 30)];
    expect(exchanges.list()).toEqual([]);
    exchanges.add(a);
    expect(names(exchanges.list())).toEqual(['a']);
    exchanges.add(b);
    exchanges.add(c);
    expect(names(exchanges.list())).toEqual(['a', 'b', 'c']);
  });

  test('deletes from either place; an unknown exchange changes nothing', () => {
    const exchanges = new ClientExchanges<Fake>();
    const [a, b, c] = [new Fake('a', 10), new Fake('b', 20), new Fake('c', 30)];
    exchanges.add(a);
    exchanges.add(b);
    exchanges.delete(a);
    expect(names(exchanges.list())).toEqual(['b']);
    exchanges.delete(c);
    expect(names(exchanges.list())).toEqual(['b']);
    exchanges.add(c); // the field is free again
    expect(names(exchanges.list())).toEqual(['c', 'b']);
    exchanges.delete(b);
    exchanges.delete(c);
    expect(exchanges.list()).toEqual([]);
  });

  test('the list is a copy: ending exchanges while walking it is safe', () => {
    const exchanges = new ClientExchanges<Fake>();
    const all = [new Fake('a', 1), new Fake('b', 2), new Fake('c', 3)];
    for (const e of all) exchanges.add(e);
    const seen: string[] = [];
    for (const e of exchanges.list()) {
      seen.push(e.name);
      exchanges.delete(e);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(exchanges.list()).toEqual([]);
  });

  test('late() appends the exchanges past their deadline, from both places', () => {
    const exchanges = new ClientExchanges<Fake>();
    for (const e of [new Fake('a', 10), new Fake('b', 30), new Fake('c', 20)]) exchanges.add(e);
    const late: Fake[] = [new Fake('already there', 0)];
    exchanges.late(20, late);
    expect(names(late)).toEqual(['already there', 'a', 'c']);
    const none: Fake[] = [];
    exchanges.late(5, none);
    expect(none).toEqual([]);
  });
});
