import type { RouteTarget } from '../store/store.js';

interface Route {
  deployment: number;
  targets: readonly RouteTarget[];
  next: number;
}

const NONE: ReadonlySet<string> = new Set();

export function targetKey(target: RouteTarget): string {
  return `${target.host}:${target.port}`;
}

/**
 * Which containers serve which app. Replacing an app's route is one Map write, so from one
 * request to the next every new request goes to the new set.
 */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  /**
   * Requests in flight per target. A count that drops to 0 stays (the next request only changes
   * its value, the table is not rebuilt; see client-exchanges.ts); route changes prune them.
   */
  private readonly inFlight = new Map<string, number>();
  /** Targets out of rotation: they refused a connection or their container died. */
  private readonly down = new Set<string>();

  set(app: string, deployment: number, targets: readonly RouteTarget[]): void {
    // New targets have just passed their boot check: whatever a reused port did before is past.
    for (const t of targets) this.down.delete(targetKey(t));
    this.routes.set(app, { deployment, targets: [...targets], next: 0 });
    this.prune();
  }

  /** Every app's route, to hand the whole table to another process. */
  entries(): { app: string; deployment: number; targets: RouteTarget[] }[] {
    return [...this.routes].map(([app, route]) => ({ app, deployment: route.deployment, targets: [...route.targets] }));
  }

  apps(): string[] {
    return [...this.routes.keys()];
  }

  delete(app: string): void {
    this.routes.delete(app);
    this.prune();
  }

  deploymentOf(app: string): number | undefined {
    return this.routes.get(app)?.deployment;
  }

  /** Round robin over the app's targets in rotation; `skip` lists targets this request already tried. */
  pick(app: string, skip: ReadonlySet<string> = NONE): RouteTarget | undefined {
    const route = this.routes.get(app);
    if (!route) return undefined;
    const count = route.targets.length;
    for (let i = 0; i < count; i++) {
      const target = route.targets[(route.next + i) % count]!;
      const key = targetKey(target);
      if (skip.has(key) || this.down.has(key)) continue;
      route.next = (route.next + i + 1) % count;
      return target;
    }
    return undefined;
  }

  /** Whether the app's route has a target in rotation (not taken out), tried or not. */
  hasLive(app: string): boolean {
    const route = this.routes.get(app);
    return route !== undefined && route.targets.some((target) => !this.down.has(targetKey(target)));
  }

  markDown(key: string): void {
    this.down.add(key);
  }

  markUp(key: string): void {
    this.down.delete(key);
  }

  isDown(key: string): boolean {
    return this.down.has(key);
  }

  /** Whether any app's current route includes the target. */
  isRouted(key: string): boolean {
    for (const route of this.routes.values()) if (route.targets.some((t) => targetKey(t) === key)) return true;
    return false;
  }

  begin(target: RouteTarget): void {
    const key = targetKey(target);
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
  }

  end(target: RouteTarget): void {
    const key = targetKey(target);
    const count = this.inFlight.get(key);
    if (count !== undefined && count > 0) this.inFlight.set(key, count - 1);
  }

  /** Forgets the counts at 0 of targets no route uses any more. */
  private prune(): void {
    const routed = new Set<string>();
    for (const route of this.routes.values()) for (const t of route.targets) routed.add(targetKey(t));
    for (const [key, count] of this.inFlight) if (count === 0 && !routed.has(key)) this.inFlight.delete(key);
  }

  activeRequests(targets: readonly RouteTarget[]): number {
    return targets.reduce((sum, t) => sum + (this.inFlight.get(targetKey(t)) ?? 0), 0);
  }
}
