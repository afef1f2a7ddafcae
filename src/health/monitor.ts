import http from 'node:http';
import { servingTargets } from '../store/routing.js';
import type { RouteRecord, RouteTarget } from '../store/store.js';
import { probe, type HealthCheck } from './probe.js';

/** Failed checks in a row that take a serving container out of the rotation. */
export const FAILURES_TO_LEAVE = 3;
const DEFAULT_INTERVAL_MS = 5000;

export interface HealthMonitorDeps {
  /**
   * The recorded routes (the targets switched in by deploys, scale and restart) of the apps that
   * set a healthcheckPath: read every tick, so apps without a check cost nothing.
   */
  routes(): RouteRecord[];
  /** One app's recorded routes, check or not. */
  routeOf(app: string): RouteRecord | undefined;
  /** The app's health check and how often to run it, if it set a healthcheckPath. */
  check(app: string): (HealthCheck & { intervalMs: number | null }) | undefined;
  /** Runs `task` in the app's deploy queue, so it never interleaves with a deploy, scale or restart. */
  exclusive(app: string, task: () => Promise<void>): Promise<void>;
  /** Points the router at these targets of the app (in-flight requests to others finish). */
  route(app: string, deployment: number, targets: RouteTarget[]): Promise<void>;
  /**
   * Where the containers out of the rotation are kept (the store), so that a restarted server
   * and a router that starts leave them out too, until a check passes.
   */
  outOfRotation: {
    load(): { app: string; containers: string[] }[];
    save(app: string, containers: string[]): void;
  };
  log: (line: string) => void;
}

interface Watched {
  app: string;
  agent: http.Agent;
  failures: number;
  unhealthy: boolean;
  nextAt: number;
  busy: boolean;
}

/**
 * While containers serve, checks each routed web container of the apps that set a
 * healthcheckPath, on its own keep-alive connection and outside the router (so checks are not
 * traffic). Three failures in a row take it out of the rotation — unless it is the app's last
 * healthy one — and one pass puts it back. The recorded routes stay whole; only what the router
 * serves changes, from inside the app's deploy queue.
 */
export class HealthMonitor {
  private readonly watched = new Map<string, Watched>();
  /** Per app, the recorded targets the router was last pointed at without the unhealthy ones. */
  private readonly applied = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: HealthMonitorDeps) {}

  start(tickMs = 200): void {
    // Out of the rotation before this server started: out until a check passes, as before.
    for (const { app, containers } of this.deps.outOfRotation.load()) {
      for (const container of containers) this.watched.set(container, this.watch(app, Date.now(), { failures: FAILURES_TO_LEAVE, unhealthy: true }));
    }
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const w of this.watched.values()) w.agent.destroy();
    this.watched.clear();
  }

  /** Whether the container (engine name) is out of the rotation for failing its checks. */
  isUnhealthy(container: string): boolean {
    return this.watched.get(container)?.unhealthy ?? false;
  }

  private tick(): void {
    const now = Date.now();
    const seen = new Set<string>();
    for (const route of this.deps.routes()) {
      const check = this.deps.check(route.app);
      if (!check) continue;
      // A deploy, scale or restart routed all of the recorded targets again: leave out the unhealthy.
      if (route.targets.some((t) => this.isUnhealthy(t.container)) && this.applied.get(route.app) !== JSON.stringify(route.targets)) {
        this.applied.set(route.app, JSON.stringify(route.targets));
        void this.reapply(route.app);
      }
      for (const t of route.targets) {
        seen.add(t.container);
        let w = this.watched.get(t.container);
        if (!w) {
          w = this.watch(route.app, now);
          this.watched.set(t.container, w);
        }
        if (w.busy || now < w.nextAt) continue;
        w.busy = true;
        w.nextAt = now + (check.intervalMs ?? DEFAULT_INTERVAL_MS);
        const watched = w;
        probe(t.port, check, w.agent, t.host)
          .then((result) => this.record(route.app, t, watched, result.healthy))
          .catch((error: unknown) => this.deps.log(`${route.app}: health check of ${t.container} failed: ${String(error)}`))
          .finally(() => (watched.busy = false));
      }
    }
    // Containers no longer routed (retired, or the app dropped its check) are forgotten.
    const forgotten = new Set<string>();
    for (const [name, w] of this.watched) {
      if (!seen.has(name)) {
        w.agent.destroy();
        this.watched.delete(name);
        if (w.unhealthy) forgotten.add(w.app);
      }
    }
    for (const app of forgotten) {
      this.persist(app);
      // An app that dropped its check while a container was out gets all of its targets back.
      const route = this.deps.routeOf(app);
      if (route && this.deps.check(app) === undefined) void this.reapply(app);
    }
  }

  private watch(app: string, nextAt: number, state = { failures: 0, unhealthy: false }): Watched {
    return { app, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }), ...state, nextAt, busy: false };
  }

  /** Keeps the app's containers out of the rotation where a restarted server and a new router find them. */
  private persist(app: string): void {
    const out = [...this.watched].filter(([, w]) => w.app === app && w.unhealthy).map(([name]) => name);
    this.deps.outOfRotation.save(app, out);
  }

  private async record(app: string, target: RouteTarget, w: Watched, healthy: boolean): Promise<void> {
    w.failures = healthy ? 0 : w.failures + 1;
    const leave = !w.unhealthy && w.failures >= FAILURES_TO_LEAVE;
    const back = w.unhealthy && healthy;
    if (!leave && !back) return;
    await this.deps.exclusive(app, async () => {
      const route = this.deps.routeOf(app);
      if (!route || !route.targets.some((t) => t.container === target.container)) return;
      if (leave) {
        const others = route.targets.filter((t) => t.container !== target.container && !this.isUnhealthy(t.container));
        // Never the last one: a failing container still answers better than none.
        if (others.length === 0) return;
        w.unhealthy = true;
        this.deps.log(`${app}: ${target.container} failed ${FAILURES_TO_LEAVE} health checks in a row and left the rotation`);
      } else {
        w.unhealthy = false;
        this.deps.log(`${app}: ${target.container} passed its health check and is back in the rotation`);
      }
      // Kept before the router hears it: a router or server that starts meanwhile reads it.
      this.persist(app);
      this.applied.set(app, JSON.stringify(route.targets));
      await this.deps.route(
        app,
        route.deployment,
        route.targets.filter((t) => !this.isUnhealthy(t.container)),
      );
    });
  }

  private async reapply(app: string): Promise<void> {
    await this.deps
      .exclusive(app, async () => {
        const route = this.deps.routeOf(app);
        if (!route) return;
        const unhealthy = route.targets.filter((t) => this.isUnhealthy(t.container)).map((t) => t.container);
        await this.deps.route(app, route.deployment, servingTargets(route.targets, unhealthy));
      })
      .catch((error: unknown) => this.deps.log(`${app}: could not leave unhealthy containers out of the rotation: ${String(error)}`));
  }
}
