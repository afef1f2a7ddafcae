import { imageName, LABEL } from '../deploy/containers.js';
import { errorLine, phaseLine } from '../deploy/log.js';
import type { RefPublisher } from '../deploy/pipeline.js';
import { appTimeouts, type Timeouts } from '../deploy/processes.js';
import type { PortAllocator } from '../runtime/ports.js';
import type { ContainerInfo, Runtime } from '../runtime/runtime.js';
import type { DeploymentRecord, Store } from '../store/store.js';

export interface RecoveryDeps {
  store: Store;
  runtime: Runtime;
  ports: PortAllocator;
  refs: RefPublisher;
  /** The server's; an app's own settings override them. */
  timeouts: Timeouts;
}

/**
 * Brings state back after a start, including one after a crash (the router already serves the
 * last switched routes again). A deployment that was running is finished: if its switch was
 * recorded, it is live, so it ends `success` and its branch is published; otherwise it ends
 * `aborted` and everything it created is removed. Containers of an app that belong to neither
 * its current deployment nor a one-off are strays (an interrupted retire), and so are web
 * containers its recorded routes do not include (an interrupted restart or scale): they go too.
 */
export interface Recovery {
  notes: string[];
  /** Stops containers an interrupted retire left behind; run it in the background. */
  retireStrays(): Promise<string[]>;
}

export function recover(deps: RecoveryDeps): Promise<Recovery> {
  // Taken now, before anything is awaited: a deployment queued after this call is not one the
  // previous server left.
  return finish(deps, deps.store.listUnfinishedDeployments());
}

async function finish(deps: RecoveryDeps, unfinished: readonly DeploymentRecord[]): Promise<Recovery> {
  const { store, runtime, ports } = deps;
  const notes: string[] = [];

  for (const d of unfinished) {
    if (store.getApp(d.app)?.currentDeployment === d.id) {
      await deps.refs.publish(d.app, d.ref, d.commit);
      const note = `the server stopped after deployment ${d.id} took traffic; the previous containers were retired at restart`;
      store.appendOutput(d.app, d.id, [phaseLine(note)]);
      store.finishDeployment(d.app, d.id, 'success', null);
      notes.push(`${d.app}: ${note}`);
      continue;
    }
    const leftovers = await runtime.listContainers({ [LABEL.app]: d.app, [LABEL.deployment]: String(d.id) });
    await Promise.all(leftovers.map((c) => runtime.stopAndRemove(c, 0)));
    await runtime.removeImage(imageName(d.app, d.id));
    const reason = `The server stopped while deployment ${d.id} was ${d.status}; push again to deploy`;
    store.appendOutput(d.app, d.id, [errorLine(`Aborted: ${reason}`)]);
    store.finishDeployment(d.app, d.id, 'aborted', reason);
    notes.push(`${d.app}: deployment ${d.id} was interrupted and is now aborted (${leftovers.length} container(s) removed)`);
  }

  const strays: ContainerInfo[] = [];
  const routed = new Map(store.listRoutes().map((r) => [r.app, new Set(r.targets.map((t) => t.port))]));
  for (const c of await runtime.listContainers({ [LABEL.role]: 'process' })) {
    const port = Number(c.labels[LABEL.port]);
    if (port > 0) ports.hold(port);
    const app = c.labels[LABEL.app] ?? '';
    const current = store.getApp(app)?.currentDeployment;
    if (current === undefined || current === null) continue;
    const otherDeployment = c.labels[LABEL.deployment] !== String(current);
    // A web container of the current deployment outside its recorded routes: the replacement an
    // interrupted restart or scale had not routed yet, or the one it had routed away from.
    const unrouted = c.labels[LABEL.type] === 'web' && !(routed.get(app)?.has(port) ?? false);
    if (otherDeployment || unrouted) strays.push(c);
  }
  return { notes, retireStrays: () => retireStrays(deps, strays) };
}

/** Stops strays the way a retire would (they get no traffic); slow apps must not delay the start. */
async function retireStrays(deps: RecoveryDeps, strays: readonly ContainerInfo[]): Promise<string[]> {
  return Promise.all(
    strays.map(async (c) => {
      const app = c.labels[LABEL.app] ?? '';
      await deps.runtime.stopAndRemove(c, appTimeouts(deps.store.getApp(app)?.settings, deps.timeouts).stopMs);
      const port = Number(c.labels[LABEL.port]);
      if (port > 0) deps.ports.release(port);
      return `${app}: removed ${c.name}, left over from a retire, restart or scale that did not finish`;
    }),
  );
}
