import { EventEmitter } from 'node:events';
import type { DeploymentRecord, Store } from '../store/store.js';
import { DeployLog, isOwnLine } from './log.js';
import type { Pipeline } from './pipeline.js';
import { KeyedQueue } from './queue.js';
import { recordOutput } from './recorder.js';
import type { FinalStatus } from './status.js';

export interface DeployRequest {
  app: string;
  gitDir: string;
  ref: string;
  commit: string;
  pushedBy: string | null;
  /** A rollback: runs this earlier deployment's image again instead of building. */
  rollbackOf?: DeploymentRecord;
  /** Asked when the deployment's turn comes: false aborts it (its token was revoked meanwhile). */
  stillAuthorized?: () => boolean;
}

export interface StartedDeployment {
  deployment: DeploymentRecord;
  log: DeployLog;
  done: Promise<FinalStatus>;
}

/**
 * Accepts deploy requests: records each as `queued`, runs them one at a time per app
 * (different apps in parallel), and keeps the live logs of running deployments for followers.
 */
export class Deployer {
  private readonly queue = new KeyedQueue();
  private readonly live = new Map<string, DeployLog>();
  /** `change` with an app's name: for watchers (the dashboard) to look again, not a record. */
  private readonly changes = new EventEmitter().setMaxListeners(0);

  constructor(
    private readonly store: Store,
    private readonly pipeline: Pipeline,
    /** Nothing runs before this settles: the server's recovery, which must see no new container. */
    private readonly ready: Promise<unknown> = Promise.resolve(),
  ) {}

  /** `onLine` is subscribed before the first line is written, so it sees the whole log. */
  deploy(request: DeployRequest, onLine?: (line: string) => void): StartedDeployment {
    const { store } = this;
    store.ensureApp(request.app);
    const waitingBehind = this.queue.size(request.app);
    const deployment = store.createDeployment(request.app, request);
    const log = new DeployLog();
    const unsubscribe = onLine ? log.onLine(onLine) : () => undefined;
    const key = `${request.app}/${deployment.id}`;
    this.live.set(key, log);
    const stopRecording = recordOutput(store, request.app, deployment.id, log);
    const changed = (): boolean => this.changes.emit('change', request.app);
    // Slipway's own lines mark its phases and its end: where a watcher's picture goes stale.
    const stopWatching = log.onLine((line) => void (isOwnLine(line) && changed()));
    changed();
    if (waitingBehind > 0) {
      log.phase(
        `Deployment ${deployment.id} is queued: ${waitingBehind === 1 ? 'another deployment' : `${waitingBehind} deployments`} of ${request.app} must finish first`,
      );
    }
    const done = this.queue
      .run(request.app, async () => {
        await this.ready;
        if (request.stillAuthorized && !request.stillAuthorized()) {
          const reason = `The token "${request.pushedBy}" that pushed deployment ${deployment.id} was revoked before it ran; push again with a valid token`;
          log.error(reason);
          store.finishDeployment(request.app, deployment.id, 'aborted', reason);
          return 'aborted' as const;
        }
        return this.pipeline.run({ deployment, gitDir: request.gitDir }, log);
      })
      .finally(() => {
        log.end();
        unsubscribe();
        stopRecording();
        stopWatching();
        this.live.delete(key);
        changed();
      });
    return { deployment, log, done };
  }

  /** Runs `task` in the app's queue: after its running and queued deployments, before later ones. */
  exclusive<T>(app: string, task: () => Promise<T>): Promise<T> {
    const done = this.queue.run(app, async () => {
      await this.ready;
      return task();
    });
    done.then(
      () => this.changes.emit('change', app),
      () => this.changes.emit('change', app),
    );
    return done;
  }

  /**
   * Calls `listener` with an app's name when one of its deployments starts, reaches a new phase
   * or ends, and when a task in its queue (scale, restart, destroy) ends.
   */
  onChange(listener: (app: string) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  /** The live log of a deployment that is still running, if it is. */
  liveLog(app: string, id: number): DeployLog | undefined {
    return this.live.get(`${app}/${id}`);
  }

  /** Resolves once every deployment started so far has ended. */
  async idle(): Promise<void> {
    while (this.live.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
