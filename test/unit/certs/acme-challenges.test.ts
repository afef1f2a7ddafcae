import { ChallengeBoard } from '../../../src/certs/acme-challenges.js';
import type { ChallengeMessage } from '../../../src/router/messages.js';

describe('ChallengeBoard', () => {
  test('publishes the whole set before the ACME server is asked, and withdraws the answer after', async () => {
    const published: ChallengeMessage[][] = [];
    const board = new ChallengeBoard(async (set) => void published.push(set));
    const seen = await board.answer('tok-1', 'tok-1.thumb', async () => {
      expect(published.at(-1)).toEqual([['tok-1', 'tok-1.thumb']]);
      return board.answer('tok-2', 'tok-2.thumb', async () => published.at(-1));
    });
    expect(seen).toEqual([
      ['tok-1', 'tok-1.thumb'],
      ['tok-2', 'tok-2.thumb'],
    ]);
    expect(published.at(-1)).toEqual([]);
    expect(board.tokens()).toEqual([]);
  });

  test('an answer that could not be published fails the attempt, and is not left behind', async () => {
    let fail = true;
    const board = new ChallengeBoard(async () => {
      if (fail) throw new Error('router channel closed');
    });
    let ran = false;
    await expect(board.answer('t', 'k', async () => void (ran = true))).rejects.toThrow('router channel closed');
    expect(ran).toBe(false);
    expect(board.tokens()).toEqual([]);
    fail = false;
    await expect(board.answer('t2', 'k2', async () => 'ok')).resolves.toBe('ok');
  });

  test('the answer is withdrawn when the challenge fails too', async () => {
    const published: ChallengeMessage[][] = [];
    const board = new ChallengeBoard(async (set) => void published.push(set));
    await expect(
      board.answer('t', 'k', async () => {
        throw new Error('invalid');
      }),
    ).rejects.toThrow('invalid');
    expect(published.at(-1)).toEqual([]);
  });
});
