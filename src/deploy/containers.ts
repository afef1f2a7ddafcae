import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HealthCheck } from '../health/probe.js';
import type { ContainerSpec, Mount, ResourceLimits, TerminalSize } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';
import { containerEnv } from './env.js';
import type { Timeouts } from './processes.js';

export const LABEL = {
  app: 'slipway.app',
  deployment: 'slipway.deployment',
  type: 'slipway.type',
  container: 'slipway.container',
  port: 'slipway.port',
  role: 'slipway.role',
  /** One-offs: `attached` (lives as long as its client's connection) or `detached` (kept for its logs). */
  runMode: 'slipway.run',
} as const;

/** The image a deployment builds (and a rollback runs again). */
export function imageName(app: string, deployment: number): string {
  return `slipway/${app}:${deployment}`;
}

/**
 * Engine names of containers: unique, and readable in `docker ps`. Slipway finds containers by
 * their labels, never by these names.
 */
export function containerName(app: string, deployment: number, label: string): string {
  return `slipway-${app}-${deployment}-${label}`;
}

/** A restart's replacement runs beside the container it replaces, so it needs a name of its own. */
export function replacementName(app: string, deployment: number, label: string, generation: string): string {
  return `${containerName(app, deployment, label)}-r${generation}`;
}

/**
 * The name users know (`web-1`) of a process container from its engine name, for the router's
 * access lines (the router knows containers by engine name only); the engine name when it is
 * not one of containerName's or replacementName's.
 */
export function labelOfName(app: string, engineName: string): string {
  const prefix = `slipway-${app}-`;
  if (!engineName.startsWith(prefix)) return engineName;
  const match = /^\d+-(.+?)(?:-r[0-9a-z]+)?$/.exec(engineName.slice(prefix.length));
  return match ? match[1]! : engineName;
}

export function oneOffName(app: string, n: number): string {
  return `slipway-${app}-run-${n}`;
}

/** A cron job's run, numbered per app (`CONTAINER=cron-<n>`). */
export function cronRunName(app: string, n: number): string {
  return `slipway-${app}-cron-${n}`;
}

/** `process`: a Procfile process that serves or works; `oneoff`: postdeploy and `run`. */
export type Role = 'process' | 'oneoff';

export interface ContainerPlan {
  app: string;
  deployment: number;
  /** The commit the image was built from (CONTAINER_VERSION). */
  commit: string;
  image: string;
  command: string;
  /** `web`, `worker`, `postdeploy`, `run`. */
  type: string;
  /** `web-1`, `postdeploy-1`, `one-off-3`: the CONTAINER the process sees. */
  label: string;
  role: Role;
  port: number;
  /** Defaults to containerName(); a restart's replacement and a one-off have their own. */
  name?: string;
  /** Variables for this container only (the release URLs the postdeploy hook gets). */
  extraEnv?: Record<string, string>;
  /** Keeps stdin open, for an interactive `run`. */
  stdin?: boolean;
  /** Gives the command a terminal (`run` from a terminal), of this size if known. */
  tty?: { size?: TerminalSize };
}

/**
 * An app's configuration, read once when a deployment (or a scale, a restart) starts: every
 * container it creates gets the same, even if someone changes the env meanwhile.
 */
export interface AppConfig {
  app: string;
  env: Record<string, string>;
  limits: ResourceLimits;
  /** Paths inside the containers where the app's storage is mounted. */
  mountPaths: readonly string[];
  timeouts: Timeouts;
  /** The check new web containers must pass to count as booted (the app's healthcheckPath), if any. */
  health: HealthCheck | undefined;
}

/** What a container spec needs of the configuration. */
export type SpecConfig = Pick<AppConfig, 'env' | 'limits' | 'mountPaths'>;

/**
 * Turns "run this command of this release" into a full container spec, the same way for every
 * container of an app: its environment, Slipway's variables, its limits, its storage mounts and
 * the labels the rest of Slipway finds containers by.
 */
export class AppContainers {
  constructor(
    private readonly store: Store,
    private readonly stack: string,
    private readonly volumesDir: string,
  ) {}

  /** The app's env, limits and mounts as they are now. */
  read(app: string): SpecConfig {
    return { env: this.store.getEnv(app), limits: this.limits(app), mountPaths: this.store.listMounts(app).map((m) => m.path) };
  }

  /** `config` defaults to the app's configuration as it is now (a one-off). */
  spec(plan: ContainerPlan, config: SpecConfig = this.read(plan.app)): ContainerSpec {
    const { limits } = config;
    return {
      name: plan.name ?? containerName(plan.app, plan.deployment, plan.label),
      image: plan.image,
      command: plan.command,
      env: containerEnv(
        { ...config.env, ...plan.extraEnv },
        { app: plan.app, container: plan.label, port: plan.port, commit: plan.commit, stack: this.stack, memoryMb: limits.memoryMb },
      ),
      limits,
      mounts: this.mounts(plan.app, config.mountPaths),
      stdin: plan.stdin ?? false,
      // A process is restarted by the engine from its creation: one that dies after the switch
      // comes back (the switch itself refuses a release whose containers died before it).
      restart: plan.role === 'process',
      ...(plan.tty ? { tty: plan.tty } : {}),
      labels: {
        [LABEL.app]: plan.app,
        [LABEL.deployment]: String(plan.deployment),
        [LABEL.type]: plan.type,
        [LABEL.container]: plan.label,
        [LABEL.role]: plan.role,
        ...(plan.role === 'process' ? { [LABEL.port]: String(plan.port) } : {}),
      },
    };
  }

  limits(app: string): ResourceLimits {
    const own = this.store.getApp(app)?.settings;
    return { memoryMb: own?.memoryMb ?? null, cpus: own?.cpus ?? null };
  }

  /** The host directory behind an app's mount path; created on first use, kept until apps:destroy. */
  volumeDir(app: string, mountPath: string): string {
    return path.join(this.volumesDir, app, encodeURIComponent(mountPath));
  }

  /** Everything the app keeps on the host (removed by apps:destroy). */
  appVolumesDir(app: string): string {
    return path.join(this.volumesDir, app);
  }

  private mounts(app: string, paths: readonly string[]): Mount[] {
    return paths.map((target) => {
      const source = this.volumeDir(app, target);
      // World-writable inside a 0700 data directory: whatever user the image runs as can write,
      // and nobody else on the host can reach it. (mkdir's mode alone went through the umask.)
      ensureStorageDir(source);
      return { source, target };
    });
  }
}

/**
 * A storage directory (`<data>/volumes/<app>/<mount>`) is bound into the app's containers, which
 * run as whatever user their image declares: it must be writable by that user, whoever it is.
 * It stays out of reach of other users on the host, because every directory above it is 0700.
 */
export const STORAGE_DIR_MODE = 0o777;

/** Creates a storage directory (and its 0700 parents) when missing, and gives it its mode. */
export function ensureStorageDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stats = lstatSync(dir);
  if ((stats.mode & 0o7777) !== STORAGE_DIR_MODE) chmodSync(dir, STORAGE_DIR_MODE);
}
