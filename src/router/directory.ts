import type { Directory } from './handle.js';
import type { RouteTable } from './table.js';

/**
 * A router's copy of the server's directory: which apps exist (404 versus 503), which custom
 * domains lead to them, and which are in maintenance. Shared by the in-process router and the worker processes.
 */
export class DirectoryView {
  private apps = new Set<string>();
  private domains = new Map<string, string>();
  private maintenance = new Set<string>();

  readonly appExists = (app: string): boolean => this.apps.has(app);
  readonly appForCustomDomain = (host: string): string | undefined => this.domains.get(host);
  readonly inMaintenance = (app: string): boolean => this.maintenance.has(app);

  /** Takes the server's latest directory; the routes of apps that are gone are dropped. */
  apply(directory: Directory, table: RouteTable | undefined): void {
    this.apps = new Set(directory.apps);
    this.domains = new Map(directory.domains);
    this.maintenance = new Set(directory.maintenance);
    for (const app of table?.apps() ?? []) if (!this.apps.has(app)) table?.delete(app);
  }
}
