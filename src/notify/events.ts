import type { DeploymentRecord, PhaseRecord } from '../store/store.js';

/** What a notifier can subscribe to. */
export const EVENTS = ['deploy.started', 'deploy.succeeded', 'deploy.failed', 'app.crashed'] as const;
export type EventName = (typeof EVENTS)[number];

/** The event `notifiers:test` sends; every notifier gets it, whatever it subscribed to. */
export const TEST_EVENT = 'notifier.test';

export interface DeploymentSummary {
  id: number;
  status: string;
  /** Why it failed (the sentence the push showed), or null. */
  reason: string | null;
  /** The phase it failed in, or null. */
  failedPhase: string | null;
  commit: string;
  subject: string;
  pushedBy: string | null;
  rollbackOf: number | null;
  startedAt: string;
  finishedAt: string | null;
  /** From the start of its first phase to its end, in seconds; null while it runs. */
  durationSeconds: number | null;
  /** Each finished phase's duration in seconds, in order. */
  phases: Record<string, number>;
}

/** The JSON body of one notification (the `slack` format is made from it). */
export interface Notification {
  event: EventName | typeof TEST_EVENT;
  app: string;
  appUrl: string;
  /** The deployment it is about (for app.crashed: the one the container runs). */
  deployment: DeploymentSummary | null;
  /** The API URL of the deployment's log, or of the container's logs for app.crashed. */
  logUrl: string | null;
  /** app.crashed: the container in a crash loop, how often it died lately and its last exit code. */
  container?: { name: string; deaths: number; exitCode: number | null };
  time: string;
}

export function deploymentSummary(d: DeploymentRecord, phases: readonly PhaseRecord[], subject: string): DeploymentSummary {
  const started = phases[0]?.startedAt ?? d.createdAt;
  const failed = d.status !== 'success' && d.finishedAt !== null ? [...phases].reverse().find((p) => p.finishedAt === null) : undefined;
  return {
    id: d.id,
    status: d.status,
    reason: d.reason,
    failedPhase: failed?.phase ?? null,
    commit: d.commit,
    subject,
    pushedBy: d.pushedBy,
    rollbackOf: d.rollbackOf,
    startedAt: new Date(started).toISOString(),
    finishedAt: d.finishedAt === null ? null : new Date(d.finishedAt).toISOString(),
    durationSeconds: d.finishedAt === null ? null : roundSeconds(d.finishedAt - started),
    phases: Object.fromEntries(phases.filter((p) => p.finishedAt !== null).map((p) => [p.phase, roundSeconds(p.finishedAt! - p.startedAt)])),
  };
}

/** The deploy event a final status is. */
export function finishedEvent(status: string): EventName {
  return status === 'success' ? 'deploy.succeeded' : 'deploy.failed';
}

function roundSeconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
