import type { FailureStatus } from './status.js';

/** A phase failed; the deployment (or in-place change) ends with `status`, and `lines` explain why. */
export class DeployFailure extends Error {
  constructor(
    readonly status: FailureStatus,
    message: string,
    readonly lines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'DeployFailure';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}
