/** Deployment statuses (Scalingo's names) and the transitions allowed between them. */

export const STATUSES = ['queued', 'building', 'starting', 'success', 'aborted', 'build-error', 'crashed-error', 'timeout-error', 'hook-error'] as const;

export type Status = (typeof STATUSES)[number];
export type FailureStatus = 'aborted' | 'build-error' | 'crashed-error' | 'timeout-error' | 'hook-error';
export type FinalStatus = 'success' | FailureStatus;

const NEXT: Record<Status, readonly Status[]> = {
  queued: ['building', 'starting', 'aborted'],
  building: ['starting', 'build-error', 'aborted'],
  starting: ['success', 'crashed-error', 'timeout-error', 'hook-error', 'aborted'],
  success: [],
  aborted: [],
  'build-error': [],
  'crashed-error': [],
  'timeout-error': [],
  'hook-error': [],
};

export function isFinal(status: Status): status is FinalStatus {
  return NEXT[status].length === 0;
}

export function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: Status,
    readonly to: Status,
  ) {
    super(`a deployment cannot go from "${from}" to "${to}"`);
    this.name = 'InvalidTransitionError';
  }
}

/** Returns `to` when the move is allowed, throws otherwise. */
export function transition(from: Status, to: Status): Status {
  if (!NEXT[from].includes(to)) throw new InvalidTransitionError(from, to);
  return to;
}
