import { rm } from 'node:fs/promises';
import type { PortAllocator } from '../runtime/ports.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';
import { LABEL, type AppContainers } from './containers.js';
import type { Deployer } from './deployer.js';

export interface DestroyerDeps {
  store: Store;
  runtime: Runtime;
  deployer: Deployer;
  containers: AppContainers;
  ports: PortAllocator;
  /** Removes the app's git repository. */
  removeRepository(app: string): Promise<void>;
  /** The server's stop grace, for apps that set none. */
  stopMs: number;
}

export interface Destroyed {
  containers: number;
  images: number;
}

/**
 * `apps:destroy`: after what runs now, stops and removes everything the app has — containers
 * (with the app's stop timeout, their ports released), images, storage, repository, records.
 * Meanwhile new pushes are refused and queued ones end `aborted` unrun.
 */
export class AppDestroyer {
  constructor(private readonly deps: DestroyerDeps) {}

  destroy(app: string): Promise<Destroyed> {
    const sentence = `${app} is being destroyed (apps:destroy); push again once it is gone to create it anew`;
    return this.deps.deployer.closeApp(app, sentence, () => this.remove(app));
  }

  private async remove(app: string): Promise<Destroyed> {
    const { store, runtime, ports } = this.deps;
    const graceMs = store.getApp(app)?.settings.stopTimeoutMs ?? this.deps.stopMs;
    const containers = await runtime.listContainers({ [LABEL.app]: app });
    await Promise.all(
      containers.map(async (c) => {
        await runtime.stopAndRemove(c, graceMs);
        const port = Number(c.labels[LABEL.port]);
        if (c.labels[LABEL.role] === 'process' && port > 0) ports.release(port);
      }),
    );
    const images = new Set(
      store
        .listDeployments(app, 100_000)
        .map((d) => d.image)
        .filter((image): image is string => image !== null),
    );
    for (const image of images) {
      // An image an engine or a registry would not let go (a registry that refuses deletes) must
      // not leave the app half-removed: the rest goes all the same.
      await runtime.removeImage(image).catch(() => undefined);
    }
    await rm(this.deps.containers.appVolumesDir(app), { recursive: true, force: true });
    await this.deps.removeRepository(app);
    store.deleteApp(app);
    return { containers: containers.length, images: images.size };
  }
}
