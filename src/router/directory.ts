import type { Directory } from './handle.js';

/**
 * A router's copy of the server's directory: which apps exist (404 versus 503), which custom
 * domains lead to them, and which are in maintenance.
 */
export class DirectoryView {
  private apps = new Set<string>();
  private domains = new Map<string, string>();
  private maintenance = new Set<string>();
  private forceHttps = new Set<string>();
  private hsts = new Set<string>();

  readonly appExists = (app: string): boolean => this.apps.has(app);
  readonly appForCustomDomain = (host: string): string | undefined => this.domains.get(host);
  readonly inMaintenance = (app: string): boolean => this.maintenance.has(app);
  readonly redirectsToHttps = (app: string): boolean => this.forceHttps.has(app);
  readonly sendsHsts = (app: string): boolean => this.hsts.has(app);

  current(): Directory {
    const directory: Directory = { apps: [...this.apps], domains: [...this.domains], maintenance: [...this.maintenance] };
    if (this.forceHttps.size > 0) directory.forceHttps = [...this.forceHttps];
    if (this.hsts.size > 0) directory.hsts = [...this.hsts];
    return directory;
  }

  apply(directory: Directory): void {
    this.apps = new Set(directory.apps);
    this.domains = new Map(directory.domains);
    this.maintenance = new Set(directory.maintenance);
    this.forceHttps = new Set(directory.forceHttps);
    this.hsts = new Set(directory.hsts);
  }
}
