import type { DeploymentRecord } from '../../store/store.js';
import { query, type RouteContext } from '../context.js';
import { iso } from '../reply.js';

export function deploymentJson(d: DeploymentRecord): object {
  return {
    id: d.id,
    status: d.status,
    reason: d.reason,
    commit: d.commit,
    ref: d.ref,
    image: d.image,
    pushedBy: d.pushedBy,
    rollbackOf: d.rollbackOf,
    createdAt: iso(d.createdAt),
    finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
  };
}

/** Deployments: list, detail with the phase timeline, output (live with ?follow=1). */
export function deploymentRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/deployments', (_req, p) => ({
    json: ctx.store.listDeployments(ctx.app(p).name).map(deploymentJson),
  }));
  ctx.add('GET', '/api/apps/:app/deployments/:id', (_req, p) => {
    const d = ctx.deployment(p);
    const phases = ctx.store.listPhases(d.app, d.id).map((ph) => ({
      phase: ph.phase,
      startedAt: iso(ph.startedAt),
      finishedAt: ph.finishedAt === null ? null : iso(ph.finishedAt),
      durationMs: ph.finishedAt === null ? null : ph.finishedAt - ph.startedAt,
    }));
    return { json: { ...deploymentJson(d), phases } };
  });
  ctx.add('GET', '/api/apps/:app/deployments/:id/output', (req, p) => {
    const d = ctx.deployment(p);
    const live = query(req).has('follow') ? ctx.deployer.liveLog(d.app, d.id) : undefined;
    // Following a deployment that still runs: its lines as they are written, until it ends.
    if (live && !live.isEnded) return { stream: live };
    const lines = ctx.store.getOutput(d.app, d.id);
    return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '' };
  });
}
