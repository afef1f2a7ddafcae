import type { RouteTarget } from '../store/store.js';

/** What the server knows of apps that the router needs to answer 404 versus 503, and custom domains. */
export interface Directory {
  apps: string[];
  /** Custom domain → app. */
  domains: [string, string][];
  /** Apps whose visitors get the maintenance page. */
  maintenance: string[];
}

/**
 * The server's control over the router, whether it runs in this process or in worker
 * processes. Every method resolves once every router process has applied the change.
 */
export interface RouterHandle {
  listen(port: number, host: string): Promise<void>;
  /** Points the app at new targets; resolves when no router will send a new request elsewhere. */
  switchTo(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  /** Resolves when the targets have no request in flight in any router, or after `timeoutMs`. */
  drain(targets: readonly RouteTarget[], timeoutMs: number): Promise<void>;
  /** Takes a target out of rotation until it accepts connections again. */
  takeOut(target: RouteTarget): void;
  setDirectory(directory: Directory): Promise<void>;
  close(): Promise<void>;
}
