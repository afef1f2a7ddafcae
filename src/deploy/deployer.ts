import { EventEmitter } from 'node:events';
import type { DeploymentRecord, Store } from '../store/store.js';
import { errorMessage } from './failure.js';
import { DeployLog, isOwnLine } from './log.js';
import type { Pipeline } from './pipeline.js';
import { KeyedQueue, listed } from './queue.js';
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
  /**
   * Asked when the deployment's turn comes, before anything is built: throws DeployRefused to
   * end it `aborted` with that sentence (a revoked token, a branch that moved). May name the
   * branch's commit to move it from, and a rollback's target picked now rather than when asked.
   */
  admit?: (log: DeployLog, deployment: DeploymentRecord) => Promise<Admission | void>;
}

export interface Admission {
  /** The branch's commit now (null: none); the branch then moves only from it. */
  base?: string | null;
  /** A rollback's earlier deployment, chosen when its turn came. */
  rollbackOf?: DeploymentRecord;
}

/** What subscribers (notifications, cron) hear about deployments: each start, and each end with its final status. */
export type DeploymentEvent = { kind: 'started'; deployment: DeploymentRecord } | { kind: 'finished'; deployment: DeploymentRecord; status: FinalStatus };

export interface StartedDeployment {
  deployment: DeploymentRecord;
  log: DeployLog;
  done: Promise<FinalStatus>;
}

/** A deployment is not run; its message is the sentence the user reads. */
export class DeployRefused extends Error {
  constructor(
    message: string,
    /** What git shows in `! [remote rejected] main -> main (…)`. */
    readonly gitReason = 'aborted',
  ) {
    super(message);
    this.name = 'DeployRefused';
  }
}

/** No new deployment or change is accepted for the app (it is being destroyed) or at all (the server stops). */
export class DeployerClosedError extends Error {
  constructor(
    message: string,
    readonly gitReason: string,
  ) {
    super(message);
    this.name = 'DeployerClosedError';
  }
}

interface Running {
  done: Promise<unknown>;
  abort: AbortController;
}

/**
 * Accepts deploy requests: records each as `queued`, runs them one at a time per app
 * (different apps in parallel), and keeps the live logs of running deployments for followers.
 * It owns the bookkeeping of what runs: every path, failed or not, releases it.
 */
export class Deployer {
  private readonly queue = new KeyedQueue();
  private readonly live = new Map<string, DeployLog>();
  private readonly running = new Map<string, Running>();
  /** Apps being destroyed, with the sentence that refuses their deployments. */
  private readonly closing = new Map<string, DeployerClosedError>();
  private stopping: DeployerClosedError | undefined;
  /** `change` with an app's name: for watchers (the dashboard) to look again, not a record. */
  private readonly changes = new EventEmitter().setMaxListeners(0);
  /** Notifications and cron: a record with each start and end (onChange only says "look again"). */
  private readonly listeners = new Set<(event: DeploymentEvent) => void>();

  constructor(
    private readonly store: Store,
    private readonly pipeline: Pipeline,
    private readonly onError: (error: unknown) => void = () => undefined,
    /** Nothing runs before this settles: the server's recovery, which must see no new container. */
    private readonly ready: Promise<unknown> = Promise.resolve(),
  ) {}

  /** `onLine` is subscribed before the first line is written, so it sees the whole log. Throws DeployerClosedError. */
  deploy(request: DeployRequest, onLine?: (line: string) => void): StartedDeployment {
    const { store } = this;
    const closed = this.closedFor(request.app);
    if (closed) throw closed;
    store.ensureApp(request.app);
    const ahead = this.queue.pending(request.app);
    const deployment = store.createDeployment(request.app, request);
    const log = new DeployLog();
    const key = `${request.app}/${deployment.id}`;
    this.live.set(key, log);
    const abort = new AbortController();
    // The store hears each line first: what the client sees is already kept if the server dies.
    const stopRecording = recordOutput(store, request.app, deployment.id, log, undefined, this.onError);
    const unsubscribe = onLine ? log.onLine(onLine) : () => undefined;
    const changed = (): boolean => this.changes.emit('change', request.app);
    // Slipway's own lines mark its phases and its end: where a watcher's picture goes stale.
    const stopWatching = log.onLine((line) => void (isOwnLine(line) && changed()));
    changed();
    if (ahead.length > 0) log.phase(`Deployment ${deployment.id} is queued behind ${listed(ahead)} of ${request.app}`);
    const done = this.queue
      .run(
        request.app,
        async (): Promise<FinalStatus> => {
          await this.ready;
          let job = { deployment, gitDir: request.gitDir, signal: abort.signal, base: undefined as string | null | undefined };
          try {
            const closedNow = this.closedFor(request.app);
            if (closedNow) throw new DeployRefused(`${closedNow.message}; deployment ${deployment.id} was not run`);
            const admission = (await request.admit?.(log, deployment)) ?? {};
            if (admission.rollbackOf) {
              store.retargetRollback(request.app, deployment.id, admission.rollbackOf);
              job = { ...job, deployment: store.getDeployment(request.app, deployment.id)! };
            }
            job.base = admission.base;
          } catch (error) {
            if (!(error instanceof DeployRefused)) throw error;
            log.error(error.message);
            store.finishDeployment(request.app, deployment.id, 'aborted', error.message);
            return 'aborted';
          }
          this.emit({ kind: 'started', deployment: store.getDeployment(request.app, deployment.id) ?? job.deployment });
          const status = await this.pipeline.run(job, log);
          this.emit({ kind: 'finished', deployment: store.getDeployment(request.app, deployment.id) ?? job.deployment, status });
          return status;
        },
        `deployment ${deployment.id}`,
      )
      .catch((error: unknown): FinalStatus => {
        // The pipeline reports its own failures; this is the store failing (an app deleted meanwhile).
        this.onError(error);
        log.error(`Deployment ${deployment.id} stopped on an unexpected error: ${errorMessage(error)}`);
        try {
          store.finishDeployment(request.app, deployment.id, 'aborted', errorMessage(error));
        } catch {
          // The app is gone with its records.
        }
        return 'aborted';
      })
      .finally(() => {
        // Forgotten first: nothing below may keep a deployment counted as running.
        this.live.delete(key);
        this.running.delete(key);
        for (const release of [() => log.end(), unsubscribe, stopRecording, stopWatching, changed]) {
          try {
            release();
          } catch (error) {
            this.onError(error);
          }
        }
      });
    this.running.set(key, { done, abort });
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
      } catch (error) {
        // A subscriber's own failure is reported; the deployment goes on regardless.
        this.onError(error);
      }
    }
  }

  /**
   * Runs `task` in the app's queue: after its running and queued deployments, before later ones.
   * `what` names it for those that wait behind it; `log`, if given, is told when it has to wait.
   */
  exclusive<T>(app: string, what: string, task: () => Promise<T>, log?: DeployLog): Promise<T> {
    const closed = this.closedFor(app);
    if (closed) return Promise.reject(closed);
    const ahead = this.queue.pending(app);
    if (ahead.length > 0) log?.phase(`Waiting for ${listed(ahead)} of ${app} to finish`);
    const done = this.queue.run(
      app,
      async () => {
        await this.ready;
        return task();
      },
      what,
    );
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

  /**
   * Runs `task` (destroying the app) after what runs now; meanwhile, and until it ends, new
   * deployments of the app are refused with `sentence`, and those queued end `aborted` unrun.
   */
  async closeApp<T>(app: string, sentence: string, task: () => Promise<T>): Promise<T> {
    const closed = this.closedFor(app);
    if (closed) throw closed;
    this.closing.set(app, new DeployerClosedError(sentence, 'the app is being destroyed'));
    try {
      return await this.queue.run(app, task, 'apps:destroy');
    } finally {
      this.closing.delete(app);
      this.changes.emit('change', app);
    }
  }

  /** Why a deployment of `app` is refused now, if it is. */
  closedFor(app: string): DeployerClosedError | undefined {
    return this.stopping ?? this.closing.get(app);
  }

  /** The live log of a deployment that is still running, if it is. */
  liveLog(app: string, id: number): DeployLog | undefined {
    return this.live.get(`${app}/${id}`);
  }

  /**
   * The server stops: new deployments are refused, queued ones end `aborted` unrun, and the
   * running ones get `graceMs` to finish before they are aborted (before their switch, so
   * nothing changes). Resolves once every deployment has ended.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping ??= new DeployerClosedError('The server is stopping; push again once it is back', 'the server is stopping; push again');
    const timer = setTimeout(() => {
      for (const r of this.running.values()) r.abort.abort();
    }, graceMs);
    try {
      await this.idle();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once every deployment started so far has ended. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }
}
