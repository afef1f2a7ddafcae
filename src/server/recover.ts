import { LABEL } from '../deploy/pipeline.js';
import type { RouterHandle } from '../router/handle.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';

/**
 * Brings state back after a start, including one after a crash: deployments that were
 * running are marked `aborted` and their containers and images removed; the router serves
 * the last switched routes again; ports held by surviving containers stay reserved.
 */
export async function recover(store: Store, runtime: Runtime, router: RouterHandle, ports: PortAllocator): Promise<string[]> {
  const notes: string[] = [];
  for (const route of store.listRoutes()) await router.switchTo(route.app, route.deployment, route.targets);

  for (const d of store.listUnfinishedDeployments()) {
    const leftovers = await runtime.listContainers({ [LABEL.app]: d.app, [LABEL.deployment]: String(d.id) });
    await Promise.all(leftovers.map((c) => runtime.stopAndRemove(c, 0)));
    if (d.image) await runtime.removeImage(d.image);
    const reason = `the server stopped while deployment ${d.id} was ${d.status}; push again to deploy`;
    store.appendOutput(d.app, d.id, [` !     Aborted: ${reason}`]);
    store.finishDeployment(d.app, d.id, 'aborted', reason);
    notes.push(`${d.app}: deployment ${d.id} was interrupted and is now aborted (${leftovers.length} container(s) removed)`);
  }

  for (const c of await runtime.listContainers({ [LABEL.role]: 'process' })) {
    const port = Number(c.labels[LABEL.port]);
    if (port > 0) ports.hold(port);
  }
  return notes;
}
