import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AccessOptions, AppTraffic } from './access.js';
import type { FromWorker, RouterCommand, ToWorker } from './messages.js';

const WORKER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

type Sendable =
  | RouterCommand
  | { type: 'listen'; domain: string; tlsInFront: boolean; httpsPort?: number; access?: AccessOptions }
  | { type: 'listen-tls' }
  | { type: 'retire'; timeoutMs: number };

interface Worker {
  child: ChildProcess;
  pending: Map<number, () => void>;
}

/**
 * The router process's workers: each accepts on the listening socket the router process opened,
 * starts from the router process's whole state, then gets every command. A worker that dies is
 * replaced the same way.
 */
export class RouterWorkers {
  private readonly workers = new Set<Worker>();
  private nextId = 1;
  private stopping = false;
  /** The listening socket's handle, passed to each worker. */
  private socketHandle: object | undefined;
  /** The HTTPS port's listening socket, when there is one. */
  private tlsHandle: object | undefined;

  constructor(
    private readonly domain: string,
    private readonly tlsInFront: boolean,
    private readonly httpsPort: number | undefined,
    private readonly state: () => RouterCommand,
    private readonly log: (line: string) => void,
    /** Access logs on: the workers' settings, and where their records go. */
    private readonly access?: { options: AccessOptions; report: (traffic: AppTraffic[]) => void },
  ) {}

  async start(count: number, socketHandle: object, tlsHandle: object | undefined): Promise<void> {
    this.socketHandle = socketHandle;
    this.tlsHandle = tlsHandle;
    await Promise.all(Array.from({ length: count }, () => this.spawn()));
  }

  /** Resolves once every worker applied the command (a worker that dies meanwhile counts as done). */
  async apply(command: RouterCommand): Promise<void> {
    await Promise.all([...this.workers].map((w) => this.send(w, command)));
  }

  /** Each worker stops accepting and exits once its connections have ended. */
  async retire(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.workers].map((w) => this.send(w, { type: 'retire', timeoutMs })));
    for (const worker of this.workers) worker.child.kill();
  }

  private async spawn(): Promise<void> {
    const child = fork(WORKER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (message: FromWorker) => (message.type === 'ready' ? resolve() : reject(new Error('a router worker did not start'))));
      child.once('exit', () => reject(new Error('a router worker exited while starting')));
    });
    const worker: Worker = { child, pending: new Map() };
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') return;
      if (message.type === 'requests') {
        this.access?.report(message.traffic);
        return;
      }
      const resolve = worker.pending.get(message.id);
      if (!resolve) return;
      worker.pending.delete(message.id);
      if (message.type === 'failed') this.log(`router worker ${child.pid}: ${message.message}`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      this.workers.delete(worker);
      for (const resolve of worker.pending.values()) resolve();
      if (this.stopping) return;
      this.log(`router worker ${child.pid} exited (${signal ?? `code ${code}`}); starting another`);
      this.spawn().catch((error: unknown) => this.log(`could not start a router worker: ${String(error)}`));
    });
    // The whole state first, in the same tick as joining the set: no command falls in between.
    this.workers.add(worker);
    const state = this.send(worker, this.state());
    const listening = this.send(
      worker,
      { type: 'listen', domain: this.domain, tlsInFront: this.tlsInFront, httpsPort: this.httpsPort, access: this.access?.options },
      this.socketHandle,
    );
    // After 'listen' (messages arrive in order): the worker has its instance by then.
    const secure = this.tlsHandle === undefined ? undefined : this.send(worker, { type: 'listen-tls' }, this.tlsHandle);
    await Promise.all([state, listening, secure]);
  }

  private send(worker: Worker, command: Sendable, handle?: object): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      worker.pending.set(id, resolve);
      // A handle other than a Socket or Server is sent as a raw descriptor (child_process' "net.Native").
      worker.child.send({ ...command, id } as ToWorker, handle as Parameters<ChildProcess['send']>[1], (error: Error | null) => {
        if (error && worker.pending.delete(id)) resolve();
      });
    });
  }
}
