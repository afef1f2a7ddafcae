import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteTarget } from '../store/store.js';
import type { Directory, RouterHandle } from './handle.js';
import type { FromWorker, ToWorker } from './messages.js';

const WORKER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

type Command = ToWorker extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The router spread over worker processes that share the router port, so proxying uses every
 * core. The server keeps the routing state and replays it to a worker that restarts. A switch
 * resolves only once every worker routes to the new targets.
 */
export class RouterCluster implements RouterHandle {
  private readonly workers = new Set<Worker>();
  private readonly pending = new Map<number, Pending>();
  private readonly routes = new Map<string, { deployment: number; targets: RouteTarget[] }>();
  private directory: Directory = { apps: [], domains: [], maintenance: [] };
  private listenAt: { port: number; host: string } | undefined;
  private nextId = 1;
  private closing = false;

  constructor(
    private readonly count: number,
    private readonly domain: string,
    private readonly onWorkerExit: (message: string) => void = () => undefined,
    private readonly upstreamTimeoutMs?: number,
    private readonly tlsInFront = false,
  ) {}

  async listen(port: number, host: string): Promise<void> {
    this.listenAt = { port, host };
    // Each worker accepts connections itself, rather than through this process.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_SCRIPT, args: [], silent: false });
    await Promise.all(Array.from({ length: this.count }, () => this.spawn()));
  }

  async switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void> {
    this.routes.set(app, { deployment, targets });
    await this.broadcast({ type: 'route', app, deployment, targets });
  }

  async drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void> {
    await this.broadcast({ type: 'drain', targets: [...targets], timeoutMs });
  }

  takeOut(target: RouteTarget): void {
    void this.broadcast({ type: 'take-out', target }).catch(() => undefined);
  }

  async setDirectory(directory: Directory): Promise<void> {
    this.directory = directory;
    const apps = new Set(directory.apps);
    for (const app of this.routes.keys()) if (!apps.has(app)) this.routes.delete(app);
    await this.broadcast({ type: 'directory', directory });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.workers].map((w) => this.send(w, { type: 'close' })));
    for (const worker of this.workers) worker.kill();
    this.workers.clear();
  }

  private async spawn(): Promise<void> {
    const worker = cluster.fork();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (message: FromWorker) => (message.type === 'ready' ? resolve() : reject(new Error('router worker did not start'))));
      worker.once('exit', () => reject(new Error('router worker exited while starting')));
    });
    await ready;
    this.workers.add(worker);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.type === 'done') pending.resolve();
      else pending.reject(new Error(message.message));
    });
    worker.on('exit', (code, signal) => {
      this.workers.delete(worker);
      if (this.closing) return;
      this.onWorkerExit(`router worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
      this.spawn().catch((error: unknown) => this.onWorkerExit(`could not restart a router worker: ${String(error)}`));
    });
    // A new worker gets the whole state before it takes connections.
    await this.send(worker, { type: 'directory', directory: this.directory });
    for (const [app, route] of this.routes) await this.send(worker, { type: 'route', app, ...route });
    const at = this.listenAt!;
    await this.send(worker, { type: 'listen', port: at.port, host: at.host, domain: this.domain, upstreamTimeoutMs: this.upstreamTimeoutMs, tlsInFront: this.tlsInFront });
  }

  private broadcast(command: Command): Promise<unknown> {
    return Promise.all([...this.workers].map((w) => this.send(w, command)));
  }

  private send(worker: Worker, command: Command): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const onExit = (): void => {
        // A worker that dies mid-command is replaced with the full state; nothing to wait for.
        if (this.pending.delete(id)) resolve();
      };
      worker.once('exit', onExit);
      const settle = this.pending.get(id)!;
      this.pending.set(id, {
        resolve: () => (worker.off('exit', onExit), settle.resolve()),
        reject: (error) => (worker.off('exit', onExit), settle.reject(error)),
      });
      worker.send({ ...command, id } as ToWorker);
    });
  }
}
