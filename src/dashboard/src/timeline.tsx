import type { Deployment, Phase } from './api';
import { duration, FINAL } from './format';

export const PHASES = ['build', 'start', 'boot', 'postdeploy', 'switch', 'retire'];

function phaseMs(phase: Phase, deployment: Deployment, now: number): number {
  if (phase.durationMs !== null) return phase.durationMs;
  const end = deployment.finishedAt ? Date.parse(deployment.finishedAt) : now;
  return Math.max(0, end - Date.parse(phase.startedAt));
}

/**
 * One bar per phase, as wide as its share of the deployment's time; the running phase grows
 * with the clock, the phase a failed deployment stopped in is marked with its status.
 */
export function Timeline({ deployment, now, compact = false }: { deployment: Deployment; now: number; compact?: boolean }) {
  const phases = (deployment.phases ?? []).slice().sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  if (phases.length === 0) {
    return <p class="muted timeline-empty">{FINAL.has(deployment.status) ? 'No phases recorded.' : 'Waiting for the first phase…'}</p>;
  }
  const times = phases.map((p) => phaseMs(p, deployment, now));
  const total = Math.max(
    1,
    times.reduce((a, b) => a + b, 0),
  );
  return (
    <ol class={`timeline${compact ? ' compact' : ''}`} aria-label={`Phases of deployment ${deployment.id}`}>
      {phases.map((p, i) => {
        const ms = times[i]!;
        const state = p.failed ? 'failed' : p.finishedAt === null ? (FINAL.has(deployment.status) ? 'stopped' : 'running') : 'done';
        const label = `${p.phase}: ${duration(ms)}${state === 'failed' ? `, ${deployment.status}` : state === 'running' ? ', running' : ''}`;
        return (
          <li
            key={p.phase}
            class={`bar ${state}`}
            data-phase={p.phase}
            data-state={state}
            data-ms={ms}
            style={{ flexGrow: ms / total, flexBasis: '0', minWidth: compact ? '0.5rem' : '3.5rem' }}
            title={label}
            aria-label={label}
          >
            {!compact && (
              <>
                <span class="bar-name">{p.phase}</span>
                <span class="bar-time">{state === 'failed' ? deployment.status : duration(ms)}</span>
              </>
            )}
          </li>
        );
      })}
    </ol>
  );
}
