import type { RouteTarget } from '../store/store.js';
import type { Directory, RouterHandle } from './handle.js';
import { Router } from './proxy.js';

/** The router in the server's own process (one core): simplest, for small machines and debugging. */
export class LocalRouter implements RouterHandle {
  private apps = new Set<string>();
  private domains = new Map<string, string>();
  private readonly router: Router;

  constructor(domain: string, upstreamTimeoutMs?: number) {
    this.router = new Router({
      domain,
      appExists: (app) => this.apps.has(app),
      appForCustomDomain: (host) => this.domains.get(host),
      upstreamTimeoutMs,
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
    this.apps = new Set(directory.apps);
    this.domains = new Map(directory.domains);
    for (const app of this.router.table.apps()) if (!this.apps.has(app)) this.router.table.delete(app);
  }

  close(): Promise<void> {
    return this.router.close();
  }
}
