import type { DeploymentRecord, Store } from '../store/store.js';
import { DeployLog } from './log.js';
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

/** What subscribers (notifications, cron) hear about deployments: each start, and each end with its final status. */
export type DeploymentEvent =
  | { kind: 'started'; deployment: DeploymentRecord }
  | { kind: 'finished'; deployment: DeploymentRecord; status: FinalStatus };

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
  private readonly listeners = new Set<(event: DeploymentEvent) => void>();

  constructor(
    private readonly store: Store,
    private readonly pipeline: Pipeline,
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
    if (waitingBehind > 0) {
      log.phase(
        `Deployment ${deployment.id} is queued: ${waitingBehind === 1 ? 'another deployment' : `${waitingBehind} deployments`} of ${request.app} must finish first`,
      );
    }
    const done = this.queue
      .run(request.app, async () => {
        if (request.stillAuthorized && !request.stillAuthorized()) {
          const reason = `The token "${request.pushedBy}" that pushed deployment ${deployment.id} was revoked before it ran; push again with a valid token`;
          log.error(reason);
          store.finishDeployment(request.app, deployment.id, 'aborted', reason);
          return 'aborted' as const;
        }
        this.emit({ kind: 'started', deployment: store.getDeployment(request.app, deployment.id) ?? deployment });
        const status = await this.pipeline.run({ deployment, gitDir: request.gitDir }, log);
        this.emit({ kind: 'finished', deployment: store.getDeployment(request.app, deployment.id) ?? deployment, status });
        return status;
      })
      .finally(() => {
        log.end();
        unsubscribe();
        stopRecording();
        this.live.delete(key);
      });
    return { deployment, log, done };
  }

  /** Calls `listener` when a deployment starts (after its queue) and when it ends; never delays or fails it. */
  onEvent(listener: (event: DeploymentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: DeploymentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's own failure is its to report; the deployment goes on regardless.
      }
    }
  }

  /** Runs `task` in the app's queue: after its running and queued deployments, before later ones. */
  exclusive<T>(app: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(app, task);
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
