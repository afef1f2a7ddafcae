import type { RouteTarget } from '../store/store.js';
import type { Directory, RouterHandle } from './handle.js';
import { DirectoryView } from './directory.js';
import { Router, type RouterOptions } from './proxy.js';

/** The router in the server's own process (one core): simplest, for small machines and debugging. */
export class LocalRouter implements RouterHandle {
  private readonly directory = new DirectoryView();
  private readonly router: Router;

  constructor(domain: string, upstreamTimeoutMs?: number, extra: Pick<RouterOptions, 'tlsInFront' | 'log'> = {}) {
    this.router = new Router({
      domain,
      appExists: this.directory.appExists,
      appForCustomDomain: this.directory.appForCustomDomain,
      inMaintenance: this.directory.inMaintenance,
      upstreamTimeoutMs,
      ...extra,
    });
  }

  listen(port: number, host: string): Promise<void> {
    return this.router.listen(port, host);
  }

  async switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void> {
    this.router.table.set(app, deployment, targets);
  }

  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void> {
    return this.router.drain(targets, timeoutMs);
  }

  takeOut(target: RouteTarget): void {
    this.router.takeOut(target);
  }

  async setDirectory(directory: Directory): Promise<void> {
    this.directory.apply(directory, this.router.table);
  }

  close(): Promise<void> {
    return this.router.close();
  }
}
