import { randomBytes, randomUUID } from 'node:crypto';
import { LABEL } from '../deploy/containers.js';
import type { DeploymentEvent } from '../deploy/deployer.js';
import type { Runtime } from '../runtime/runtime.js';
import type { DeliveryRecord, NotifierFormat, NotifierRecord } from '../store/notifiers.js';
import type { DeploymentRecord, Store } from '../store/store.js';
import { CrashLoops } from './crash-loop.js';
import { DeliveryQueue, fetchSend, type Send } from './deliveries.js';
import { deploymentSummary, finishedEvent, TEST_EVENT, type EventName, type Notification } from './events.js';
import { render } from './format.js';

export interface NotificationsDeps {
  store: Store;
  runtime: Pick<Runtime, 'watch'>;
  /** Subscribes to deployments' starts and ends. */
  onDeployment(listener: (event: DeploymentEvent) => void): () => void;
  /** The subject line of a commit of the app (empty when unknown). */
  commitSubject(app: string, commit: string): Promise<string>;
  appUrl(app: string): string;
  /** The API's base URL, for links to logs. */
  apiUrl: string;
  timeoutMs: number;
  retryBaseMs: number;
  log: (line: string) => void;
  send?: Send;
  now?: () => number;
}

/** A notifier as it was created: the only time its secret is given out. */
export interface CreatedNotifier {
  notifier: NotifierRecord;
  secret: string;
}

/**
 * Deploy notifications: turns deployments' starts and ends, and web containers' crash loops,
 * into deliveries queued in the store for each notifier that wants them. Queuing is all a
 * deployment waits for; sending happens in the delivery queue.
 */
export class Notifications {
  private readonly queue: DeliveryQueue;
  private readonly crashLoops: CrashLoops;
  private readonly now: () => number;
  private readonly stops: (() => void)[] = [];

  constructor(private readonly deps: NotificationsDeps) {
    this.now = deps.now ?? Date.now;
    this.crashLoops = new CrashLoops(this.now);
    this.queue = new DeliveryQueue({
      store: deps.store.notifiers,
      send: deps.send ?? fetchSend,
      timeoutMs: deps.timeoutMs,
      retryBaseMs: deps.retryBaseMs,
      log: deps.log,
      now: this.now,
    });
  }

  /** Subscribes, and sends what was pending when the server stopped. */
  start(): void {
    this.stops.push(this.deps.onDeployment((event) => this.onDeployment(event)));
    this.stops.push(
      this.deps.runtime.watch({ [LABEL.role]: 'process', [LABEL.type]: 'web' }, (event) => {
        if (event.action !== 'die') return;
        const deaths = this.crashLoops.died(event.labels.name ?? event.id);
        if (deaths !== undefined) this.crashed(event.labels, deaths);
      }),
    );
    this.queue.kick();
  }

  async stop(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    await this.queue.stop();
  }

  add(app: string, options: { url: string; events: EventName[]; format: NotifierFormat }): CreatedNotifier {
    const secret = randomBytes(32).toString('hex');
    return { notifier: this.deps.store.notifiers.add(app, { ...options, secret }), secret };
  }

  list(app: string): NotifierRecord[] {
    return this.deps.store.notifiers.list(app);
  }

  get(app: string, id: number): NotifierRecord | undefined {
    return this.deps.store.notifiers.get(app, id);
  }

  remove(app: string, id: number): boolean {
    return this.deps.store.notifiers.remove(app, id);
  }

  /** Queues a test notification for one notifier and resolves after its first attempt. */
  async test(notifier: NotifierRecord): Promise<DeliveryRecord | undefined> {
    const n: Notification = {
      event: TEST_EVENT,
      app: notifier.app,
      appUrl: this.deps.appUrl(notifier.app),
      deployment: null,
      logUrl: null,
      time: new Date(this.now()).toISOString(),
    };
    const [id] = this.enqueue(n, [notifier]);
    return this.queue.sendNow(id!);
  }

  deliveries(app: string, notifier?: number, limit = 50): DeliveryRecord[] {
    return this.deps.store.notifiers.deliveries(app, notifier, limit);
  }

  private onDeployment(event: DeploymentEvent): void {
    const name: EventName = event.kind === 'started' ? 'deploy.started' : finishedEvent(event.status);
    if (this.subscribers(event.deployment.app, name).length === 0) return;
    this.deploymentNotification(name, event.deployment)
      .then((n) => this.notify(n))
      .catch((error: unknown) => this.deps.log(`${event.deployment.app}: could not queue the ${name} notification: ${String(error)}`));
  }

  private async deploymentNotification(event: EventName, d: DeploymentRecord): Promise<Notification> {
    const { store, apiUrl } = this.deps;
    const subject = await this.deps.commitSubject(d.app, d.commit).catch(() => '');
    return {
      event,
      app: d.app,
      appUrl: this.deps.appUrl(d.app),
      deployment: deploymentSummary(d, store.listPhases(d.app, d.id), subject),
      logUrl: `${apiUrl}/api/apps/${encodeURIComponent(d.app)}/deployments/${d.id}/output`,
      time: new Date(this.now()).toISOString(),
    };
  }

  private crashed(labels: Record<string, string>, deaths: number): void {
    const app = labels[LABEL.app] ?? '';
    const name = labels[LABEL.container] ?? labels.name ?? '';
    if (this.subscribers(app, 'app.crashed').length === 0) return;
    const id = Number(labels[LABEL.deployment]);
    const d = this.deps.store.getDeployment(app, id);
    const exitCode = Number(labels.exitCode);
    const build = d ? this.deploymentNotification('app.crashed', d).then((n) => n.deployment) : Promise.resolve(null);
    build
      .then((deployment) =>
        this.notify({
          event: 'app.crashed',
          app,
          appUrl: this.deps.appUrl(app),
          deployment,
          logUrl: `${this.deps.apiUrl}/api/apps/${encodeURIComponent(app)}/logs?ps=${encodeURIComponent(name)}`,
          container: { name, deaths, exitCode: Number.isInteger(exitCode) ? exitCode : null },
          time: new Date(this.now()).toISOString(),
        }),
      )
      .catch((error: unknown) => this.deps.log(`${app}: could not queue the app.crashed notification: ${String(error)}`));
  }

  private notify(n: Notification): void {
    if (n.event === TEST_EVENT) return;
    const to = this.subscribers(n.app, n.event);
    if (to.length > 0) this.enqueue(n, to);
  }

  private subscribers(app: string, event: EventName): NotifierRecord[] {
    return this.deps.store.notifiers.list(app).filter((x) => x.events.length === 0 || x.events.includes(event));
  }

  /** One delivery per notifier, each rendered in its format; returns their ids. */
  private enqueue(n: Notification, to: readonly NotifierRecord[]): string[] {
    const deliveries = to.map((x) => ({ id: randomUUID(), notifier: x.id, app: n.app, event: n.event, body: render(x.format, n) }));
    this.deps.store.notifiers.enqueue(deliveries);
    this.queue.kick();
    return deliveries.map((d) => d.id);
  }
}
