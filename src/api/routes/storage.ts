import { readJsonObject } from '../body.js';
import { query, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

/** Directories that belong to the image or the kernel: mounting over them would break the container. */
const RESERVED = ['/', '/app', '/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/run', '/sbin', '/sys', '/usr'];
const MOUNT_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

/**
 * Persistent storage: a host directory per mount path, bound into every container of the app
 * (the postdeploy hook and one-offs included) from the next deploy or restart on.
 */
export function storageRoutes(ctx: RouteContext): void {
  const list = async (app: string): Promise<object> => {
    // On a swarm the directory is on one node, and the app's containers are pinned to it.
    const node = ctx.runtime.registry === null ? null : ((await ctx.runtime.nodes()).find((n) => n.local)?.name ?? null);
    return ctx.store.listMounts(app).map((m) => ({ path: m.path, hostPath: ctx.containers.volumeDir(app, m.path), node, createdAt: iso(m.createdAt) }));
  };

  ctx.add('GET', '/api/apps/:app/storage', async (_req, p) => ({ json: await list(ctx.app(p).name) }));
  ctx.add('POST', '/api/apps/:app/storage', async (req, p) => {
    const app = ctx.app(p).name;
    const { path } = await readJsonObject(req);
    const mountPath = typeof path === 'string' ? path.replace(/\/+$/, '') : '';
    const problem = mountPathProblem(mountPath);
    if (problem) throw new ApiError(400, 'invalid_mount_path', problem);
    if (!ctx.store.addMount(app, mountPath)) throw new ApiError(409, 'already_mounted', `${mountPath} is already mounted in ${app}`);
    return { status: 201, json: await list(app) };
  });
  ctx.add('DELETE', '/api/apps/:app/storage', async (req, p) => {
    const app = ctx.app(p).name;
    const mountPath = (query(req).get('path') ?? '').replace(/\/+$/, '');
    if (!ctx.store.removeMount(app, mountPath)) {
      throw new ApiError(404, 'mount_not_found', `${app} has no storage mounted at "${mountPath}"; list its mounts with slipway storage`);
    }
    return { json: await list(app) };
  });
}

export function mountPathProblem(mountPath: string): string | undefined {
  if (!MOUNT_PATH.test(mountPath) || mountPath.length > 200 || mountPath.split('/').some((part) => part === '.' || part === '..')) {
    return `"${mountPath.slice(0, 80)}" is not a mount path; send an absolute path of letters, digits, ".", "_" and "-", e.g. {"path": "/data"}`;
  }
  if (RESERVED.includes(mountPath) || RESERVED.slice(2).some((dir) => mountPath.startsWith(`${dir}/`))) {
    return `${mountPath} belongs to the image or the system; mount storage at a path of its own, e.g. /data`;
  }
  return undefined;
}
