import type { ContainerEvent, Runtime } from '../runtime/runtime.js';
import type { RouteRecord, RouteTarget, Store } from '../store/store.js';
import { LABEL } from './containers.js';

/**
 * The routed target a container event takes out of the rotation, if any: a web container that
 * died while routed at its port. Only the container routed at that port counts: a retired
 * container's late event must not take out the replacement that reuses its port (Docker's event
 * attributes carry the container's name beside its labels).
 */
export function deadTarget(event: ContainerEvent, route: Pick<RouteRecord, 'targets'> | undefined): RouteTarget | undefined {
  const port = Number(event.labels[LABEL.port]);
  if (event.action !== 'die' || event.labels[LABEL.type] !== 'web' || !(port > 0)) return undefined;
  const routed = route?.targets.find((t) => t.port === port);
  return routed !== undefined && routed.container === (event.labels.name ?? '') ? routed : undefined;
}

export interface RotationDeps {
  runtime: Pick<Runtime, 'watch'>;
  store: Pick<Store, 'getRoute'>;
  /** Stops sending requests to the target until it accepts connections again (the router's probe). */
  takeOut(target: RouteTarget): void;
}

/**
 * A web container that dies leaves the rotation at once, without waiting for a request to find
 * it refusing; Docker restarts it with backoff (its restart policy) and the router takes it back
 * when it accepts connections again. Returns the function that stops watching.
 */
export function takeOutDeadWebContainers(deps: RotationDeps): () => void {
  return deps.runtime.watch({ [LABEL.role]: 'process' }, (event) => {
    const dead = deadTarget(event, deps.store.getRoute(event.labels[LABEL.app] ?? ''));
    if (dead !== undefined) deps.takeOut(dead);
  });
}
