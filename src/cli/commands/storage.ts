import type { Command } from '../command.js';
import { firstArg } from '../command.js';
import { ago, printJson, printList } from '../output.js';

interface MountJson {
  path: string;
  hostPath: string;
  /** The swarm node the storage (and so the app) is on; null on one engine. */
  node: string | null;
  createdAt: string;
}

const APPLIES = 'it applies to containers started from now on: run slipway restart, or deploy';

export const storageCommands: Command[] = [
  {
    name: 'storage',
    summary: "the app's persistent storage mounts",
    usage: 'slipway storage [-a APP] [--json]',
    example: 'slipway storage -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const mounts = await ctx.api().json<MountJson[]>('GET', `/api/apps/${app}/storage`);
      printList(ctx.out, mounts, `${app} has no storage: slipway storage:mount /data -a ${app}\n`, ['PATH', 'HOST DIRECTORY', 'CREATED'], (m) => [
        m.path,
        m.hostPath,
        ago(m.createdAt),
      ]);
    },
  },
  {
    name: 'storage:mount',
    summary: 'mount a persistent directory at PATH in every container of the app, kept across deploys',
    usage: 'slipway storage:mount PATH [-a APP] [--json]',
    example: 'slipway storage:mount /data -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const path = firstArg(ctx, 'Give the path to mount inside the containers: e.g. slipway storage:mount /data.');
      const mounts = await ctx.api().json<MountJson[]>('POST', `/api/apps/${app}/storage`, { path });
      if (ctx.out.json) return printJson(ctx.out, mounts);
      const node = mounts.find((m) => m.node)?.node;
      ctx.out.write(
        `Mounted persistent storage at ${path} in ${app}; ${APPLIES}.\n` +
          (node ? `The storage is on the swarm node ${node}: every container of ${app} runs there from then on.\n` : ''),
      );
    },
  },
  {
    name: 'storage:unmount',
    summary: 'stop mounting PATH (its files are kept until apps:destroy)',
    usage: 'slipway storage:unmount PATH [-a APP] [--json]',
    example: 'slipway storage:unmount /data -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const path = firstArg(ctx, 'Give the mounted path: e.g. slipway storage:unmount /data.');
      const mounts = await ctx.api().json<MountJson[]>('DELETE', `/api/apps/${app}/storage?path=${encodeURIComponent(path)}`);
      if (ctx.out.json) return printJson(ctx.out, mounts);
      ctx.out.write(`Unmounted ${path} from ${app} (its files are kept; mount it again to get them back); ${APPLIES}.\n`);
    },
  },
];
