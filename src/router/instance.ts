import type net from 'node:net';
import type { Directory } from './handle.js';
import { DirectoryView } from './directory.js';
import type { RouterCommand } from './messages.js';
import { Router, type RouterOptions } from './proxy.js';

/** The router's settings (its directory is its own). */
export type InstanceOptions = Pick<RouterOptions, 'domain' | 'upstreamTimeoutMs' | 'tlsInFront' | 'log' | 'access'>;

/**
 * One router: the proxy and its copy of the directory, changed only through `apply`. The router
 * process and each of its workers hold one; they all take the same commands.
 */
export class RouterInstance {
  private readonly directory = new DirectoryView();
  private readonly router: Router;

  constructor(options: InstanceOptions) {
    this.router = new Router({
      ...options,
      appExists: this.directory.appExists,
      appForCustomDomain: this.directory.appForCustomDomain,
      inMaintenance: this.directory.inMaintenance,
    });
  }

  /** The listening server, to hand its socket to workers or to a successor. */
  get server(): net.Server {
    return this.router.server;
  }

  listen(port: number, host: string): Promise<void> {
    return this.router.listen(port, host);
  }

  /** Accepts connections on a listening socket another process opened. */
  listenOn(handle: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.router.server.once('error', reject);
      this.router.server.listen(handle, () => {
        this.router.server.off('error', reject);
        resolve();
      });
    });
  }

  async apply(command: RouterCommand): Promise<void> {
    switch (command.type) {
      case 'state':
        this.applyDirectory(command.directory);
        for (const route of command.routes) this.router.switchTo(route.app, route.deployment, route.targets);
        return;
      case 'route':
        this.router.switchTo(command.app, command.deployment, command.targets);
        return;
      case 'directory':
        this.applyDirectory(command.directory);
        return;
      case 'drain':
        await this.router.drain(command.targets, command.timeoutMs);
        return;
      case 'take-out':
        this.router.takeOut(command.target);
        return;
    }
  }

  /** Everything this router knows, as one command (for a worker that starts). */
  state(): RouterCommand {
    return { type: 'state', directory: this.directory.current(), routes: this.router.table.entries() };
  }

  /** Stops accepting and ends once its connections have (see Router.retire). */
  retire(timeoutMs: number): Promise<void> {
    return this.router.retire(timeoutMs);
  }

  close(): Promise<void> {
    return this.router.close();
  }

  /** The one place where the routes of apps that are gone are dropped. */
  private applyDirectory(directory: Directory): void {
    this.directory.apply(directory);
    this.router.keepApps(this.directory.appExists);
  }
}
