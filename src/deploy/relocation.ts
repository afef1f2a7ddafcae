import type { Runtime } from '../runtime/runtime.js';
import type { RouteTarget, Store } from '../store/store.js';
import { LABEL } from './containers.js';

export interface RelocationDeps {
  runtime: Pick<Runtime, 'watch' | 'listContainers'>;
  store: Pick<Store, 'getRoute' | 'recordTargets'>;
  /** Points the router at the app's targets (the same deployment). */
  route(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  log: (line: string) => void;
}

/**
 * The routed targets with `moved`'s host in place of the one recorded for its container; undefined
 * when the container is not routed or did not move.
 */
export function relocated(targets: readonly RouteTarget[], moved: { container: string; host: string }): RouteTarget[] | undefined {
  const at = targets.findIndex((t) => t.container === moved.container);
  if (at < 0 || targets[at]!.host === moved.host) return undefined;
  return targets.map((t, i) => (i === at ? { ...t, host: moved.host } : t));
}

/**
 * On a swarm, Swarm restarts a web process whose node failed on another node, with the same PORT:
 * when its new task runs, the route follows it to the new node's address (the router probes it
 * and sends requests once it accepts connections). Placement stays Swarm's; only the address is
 * learnt. Returns the function that stops following.
 */
export function followMovedTasks(deps: RelocationDeps): () => void {
  return deps.runtime.watch({ [LABEL.role]: 'process', [LABEL.type]: 'web' }, (event) => {
    const app = event.labels[LABEL.app];
    const container = event.labels.name;
    if (event.action !== 'start' || app === undefined || container === undefined) return;
    void (async () => {
      const found = (await deps.runtime.listContainers({ [LABEL.app]: app, [LABEL.deployment]: event.labels[LABEL.deployment] ?? '' })).find(
        (c) => c.name === container,
      );
      if (found?.host === undefined) return;
      // Read as late as possible: a deploy or scale may have switched meanwhile.
      const route = deps.store.getRoute(app);
      const targets = route && relocated(route.targets, { container, host: found.host });
      if (!route || !targets) return;
      await deps.route(app, route.deployment, targets);
      deps.store.recordTargets(app, targets);
      deps.log(`${app}: ${found.labels[LABEL.container] ?? container} now runs on ${found.node ?? found.host}; traffic follows it to ${found.host}`);
    })().catch((error: unknown) => deps.log(`${app}: could not follow ${container} to its new node: ${String(error)}`));
  });
}
