import { InvalidTransitionError, isFinal, isStatus, STATUSES, transition, type Status } from '../../src/deploy/status.js';

const FINAL: Status[] = ['success', 'aborted', 'build-error', 'crashed-error', 'timeout-error', 'hook-error'];
const NOT_FINAL: Status[] = ['queued', 'building', 'starting'];

function transitionError(from: Status, to: Status): InvalidTransitionError {
  try {
    transition(from, to);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTransitionError);
    return error as InvalidTransitionError;
  }
  throw new Error(`expected ${from} -> ${to} to throw`);
}

describe('transition', () => {
  test('the happy path queued -> building -> starting -> success', () => {
    let status: Status = 'queued';
    status = transition(status, 'building');
    expect(status).toBe('building');
    status = transition(status, 'starting');
    expect(status).toBe('starting');
    status = transition(status, 'success');
    expect(status).toBe('success');
    expect(isFinal(status)).toBe(true);
  });

  test.each<[Status, Status]>([
    ['queued', 'building'],
    ['queued', 'starting'],
    ['queued', 'aborted'],
    ['building', 'starting'],
    ['building', 'build-error'],
    ['building', 'aborted'],
    ['starting', 'success'],
    ['starting', 'crashed-error'],
    ['starting', 'timeout-error'],
    ['starting', 'hook-error'],
    ['starting', 'aborted'],
  ])('allows %s -> %s and returns the new status', (from, to) => {
    expect(transition(from, to)).toBe(to);
  });

  test.each(FINAL)('no transition out of the final status "%s"', (from) => {
    for (const to of STATUSES) {
      const error = transitionError(from, to);
      expect(error.from).toBe(from);
      expect(error.to).toBe(to);
    }
  });

  test('queued -> success throws, naming both statuses', () => {
    const error = transitionError('queued', 'success');
    expect(error.message).toBe('a deployment cannot go from "queued" to "success"');
    expect(error.name).toBe('InvalidTransitionError');
    expect(error).toBeInstanceOf(Error);
    expect(error.from).toBe('queued');
    expect(error.to).toBe('success');
  });

  test.each<[Status, Status]>([
    ['queued', 'queued'],
    ['queued', 'build-error'],
    ['queued', 'hook-error'],
    ['building', 'building'],
    ['building', 'success'],
    ['building', 'queued'],
    ['building', 'crashed-error'],
    ['starting', 'queued'],
    ['starting', 'building'],
    ['starting', 'build-error'],
  ])('rejects %s -> %s', (from, to) => {
    expect(() => transition(from, to)).toThrow(`a deployment cannot go from "${from}" to "${to}"`);
  });
});

describe('isFinal', () => {
  test.each(FINAL)('"%s" is final', (status) => {
    expect(isFinal(status)).toBe(true);
  });

  test.each(NOT_FINAL)('"%s" is not final', (status) => {
    expect(isFinal(status)).toBe(false);
  });

  test('FINAL and NOT_FINAL together cover every status', () => {
    expect([...NOT_FINAL, ...FINAL].sort()).toEqual([...STATUSES].sort());
  });
});

describe('isStatus', () => {
  test.each([...STATUSES])('"%s" is a status', (value) => {
    expect(isStatus(value)).toBe(true);
  });

  test.each(['', 'Success', 'SUCCESS', 'failed', 'error', 'queued ', 'build_error', 'deployed'])('"%s" is not a status', (value) => {
    expect(isStatus(value)).toBe(false);
  });
});
