import { CommitSubjects } from '../../git/subjects.js';
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
  const subjects = new CommitSubjects();
  const withSubjects = async (app: string, list: DeploymentRecord[]): Promise<object[]> => {
    const found = await subjects.of(
      ctx.repos.pathFor(app),
      list.map((d) => d.commit),
    );
    return list.map((d) => ({ ...deploymentJson(d), subject: found.get(d.commit) ?? null }));
  };
  const phasesJson = (d: DeploymentRecord): object[] =>
    ctx.store.listPhases(d.app, d.id).map((ph) => ({
      phase: ph.phase,
      startedAt: iso(ph.startedAt),
      finishedAt: ph.finishedAt === null ? null : iso(ph.finishedAt),
      durationMs: ph.finishedAt === null ? null : ph.finishedAt - ph.startedAt,
      // The phase a failed deployment stopped in (the dashboard marks its bar).
      failed: ph.finishedAt === null && d.finishedAt !== null && d.status !== 'success',
    }));

  ctx.add('GET', '/api/apps/:app/deployments', async (req, p) => {
    const app = ctx.app(p).name;
    const list = ctx.store.listDeployments(app);
    const json = await withSubjects(app, list);
    // With ?phases=1, each one's phases too (the dashboard's timelines), in one answer.
    return { json: query(req).has('phases') ? json.map((d, i) => ({ ...d, phases: phasesJson(list[i]!) })) : json };
  });
  ctx.add('GET', '/api/apps/:app/deployments/:id', async (_req, p) => {
    const d = ctx.deployment(p);
    const [json] = await withSubjects(d.app, [d]);
    return { json: { ...json, phases: phasesJson(d) } };
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
