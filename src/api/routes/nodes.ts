import { LABEL } from '../../deploy/containers.js';
import type { RouteContext } from '../context.js';

/** The machines apps run on (every node of a swarm, or the one engine) and how many app processes each runs. */
export function nodeRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/nodes', async () => {
    const [nodes, processes] = await Promise.all([ctx.runtime.nodes(), ctx.runtime.describeContainers({ [LABEL.role]: 'process' })]);
    const running = processes.filter((p) => p.state === 'running');
    const withStorage = ctx.store
      .listApps()
      .map((a) => a.name)
      .filter((app) => ctx.store.listMounts(app).length > 0);
    return {
      json: nodes.map((n) => ({
        ...n,
        // One engine runs them all; on a swarm each counts where its task runs.
        tasks: nodes.length === 1 ? running.length : running.filter((p) => p.node === n.name).length,
        // Storage is a directory on the engine Slipway talks to: apps with some run there.
        storage: n.local ? withStorage : [],
      })),
    };
  });
}
