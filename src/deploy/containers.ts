import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ContainerSpec, Mount, ResourceLimits, TerminalSize } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';
import { containerEnv } from './env.js';

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

export function oneOffName(app: string, n: number): string {
  return `slipway-${app}-run-${n}`;
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

  spec(plan: ContainerPlan): ContainerSpec {
    const limits = this.limits(plan.app);
    return {
      name: plan.name ?? containerName(plan.app, plan.deployment, plan.label),
      image: plan.image,
      command: plan.command,
      env: containerEnv(
        { ...this.store.getEnv(plan.app), ...plan.extraEnv },
        { app: plan.app, container: plan.label, port: plan.port, commit: plan.commit, stack: this.stack, memoryMb: limits.memoryMb },
      ),
      limits,
      mounts: this.mounts(plan.app),
      stdin: plan.stdin ?? false,
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

  private mounts(app: string): Mount[] {
    return this.store.listMounts(app).map((m) => {
      const source = this.volumeDir(app, m.path);
      // World-writable inside a 0700 data directory: whatever user the image runs as can write,
      // and nobody else on the host can reach it.
      mkdirSync(source, { recursive: true, mode: 0o777 });
      return { source, target: m.path };
    });
  }
}
