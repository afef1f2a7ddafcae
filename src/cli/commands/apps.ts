import { execa } from 'execa';
import { firstArg, type Command } from '../command.js';
import { CliError } from '../errors.js';
import { ago, bold, printJson, printList, statusColor, table } from '../output.js';
import { withProgress } from '../progress.js';

interface AppJson {
  name: string;
  url: string;
  createdAt: string;
  currentDeployment: number | null;
  deploying: boolean;
  maintenance: boolean;
}

interface ProcessJson {
  name: string;
  container: string;
  type: string | null;
  deployment: number | null;
  port: number | null;
  node: string | null;
  state: string;
  restartCount: number;
  startedAt: string | null;
}

export const appsCommands: Command[] = [
  {
    name: 'apps',
    summary: 'list the apps',
    usage: 'slipway apps [--json]',
    example: 'slipway apps',
    async run(ctx) {
      const apps = await ctx.api().json<AppJson[]>('GET', '/api/apps');
      printList(ctx.out, apps, 'No apps yet: push one with git, or run slipway apps:create NAME.\n', ['NAME', 'DEPLOYMENT', 'URL', 'CREATED'], (a) => [
        a.name,
        a.currentDeployment,
        a.url,
        ago(a.createdAt),
      ]);
    },
  },
  {
    name: 'apps:create',
    summary: 'create an app (a first push creates it too)',
    usage: 'slipway apps:create NAME [--json]',
    example: 'slipway apps:create my-app',
    async run(ctx) {
      const name = firstArg(ctx, 'Name the app: slipway apps:create NAME.');
      const app = await ctx.api().json<AppJson>('POST', '/api/apps', { name });
      if (ctx.out.json) return printJson(ctx.out, app);
      ctx.out.write(`Created ${bold(ctx.out, app.name)}: ${app.url}\nAdd its remote with: slipway git:remote -a ${app.name}\n`);
    },
  },
  {
    name: 'apps:destroy',
    summary: 'stop and delete an app: containers, images, storage, repository and records',
    usage: 'slipway apps:destroy NAME --confirm NAME',
    example: 'slipway apps:destroy my-app --confirm my-app',
    options: { confirm: { type: 'string' } },
    async run(ctx) {
      const name = firstArg(ctx, 'Name the app: slipway apps:destroy NAME --confirm NAME.');
      if (ctx.options.confirm !== name) {
        throw new CliError(`This deletes ${name}'s containers, images, storage, repository and records for good; run again with --confirm ${name}.`, 2);
      }
      // A spinner on a terminal: the app's running deployment finishes first, then containers stop.
      const result = await withProgress(`Destroying ${name}`, () =>
        ctx
          .api()
          .json<{ destroyed: string; containers: number; images: number }>(
            'DELETE',
            `/api/apps/${encodeURIComponent(name)}?confirm=${encodeURIComponent(name)}`,
          ),
      );
      if (ctx.out.json) return printJson(ctx.out, result);
      ctx.out.write(`Destroyed ${name}: ${result.containers} container(s) and ${result.images} image(s) removed, with its storage, repository and records.
`);
    },
  },
  {
    name: 'apps:info',
    summary: "an app's URL, current deployment and settings",
    usage: 'slipway apps:info [-a APP] [--json]',
    example: 'slipway apps:info -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      const api = ctx.api();
      const [app, settings, domains] = await Promise.all([
        api.json<AppJson>('GET', `/api/apps/${name}`),
        api.json<Record<string, number | null>>('GET', `/api/apps/${name}/settings`),
        api.json<{ domain: string }[]>('GET', `/api/apps/${name}/domains`),
      ]);
      if (ctx.out.json) return printJson(ctx.out, { ...app, settings, domains: domains.map((d) => d.domain) });
      const rows: [string, string][] = [
        ['Name', app.name],
        ['URL', app.url],
        ['Deployment', app.currentDeployment === null ? 'none yet' : String(app.currentDeployment)],
        ['Deploying', app.deploying ? 'yes' : 'no'],
        ['Maintenance', app.maintenance ? 'on (visitors get the maintenance page)' : 'off'],
        ['Domains', domains.map((d) => d.domain).join(', ') || '-'],
        ['Created', ago(app.createdAt)],
        ...Object.entries(settings).map(([k, v]): [string, string] => [k, v === null ? 'default' : String(v)]),
      ];
      ctx.out.write(`${rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')}\n`);
    },
  },
  {
    name: 'ps',
    summary: "the app's containers: state, since, deployment, port, restarts",
    usage: 'slipway ps [-a APP] [--json]',
    example: 'slipway ps -a my-app',
    async run(ctx) {
      const name = await ctx.app();
      const processes = await ctx.api().json<ProcessJson[]>('GET', `/api/apps/${name}/ps`);
      if (ctx.out.json) return printJson(ctx.out, processes);
      if (processes.length === 0) return ctx.out.write(`${name} has no containers: push to deploy it.\n`);
      // A swarm says where each one runs; one engine keeps its columns.
      const nodes = processes.some((p) => p.node !== null);
      ctx.out.write(
        table(
          ['NAME', 'STATE', 'SINCE', 'DEPLOYMENT', ...(nodes ? ['NODE'] : []), 'PORT', 'RESTARTS'],
          processes.map((p) => [p.name, statusColor(ctx.out, p.state), ago(p.startedAt), p.deployment, ...(nodes ? [p.node] : []), p.port, p.restartCount]),
        ),
      );
    },
  },
  {
    name: 'git:remote',
    summary: 'add the "deploy" remote (with your token) to the current repository',
    usage: 'slipway git:remote -a APP',
    example: 'slipway git:remote -a my-app && git push deploy main',
    async run(ctx) {
      const name = await ctx.app();
      const { url, token } = ctx.api().connection;
      const remote = new URL(`${url}/${name}.git`);
      remote.username = 'git';
      remote.password = token;
      const existing = await execa('git', ['remote', 'get-url', 'deploy'], { cwd: ctx.cwd, reject: false });
      const args = existing.exitCode === 0 ? ['remote', 'set-url', 'deploy', remote.href] : ['remote', 'add', 'deploy', remote.href];
      const result = await execa('git', args, { cwd: ctx.cwd, reject: false });
      if (result.exitCode !== 0) throw new CliError(`Could not add the remote: ${result.stderr.trim() || 'is this a git repository?'}`);
      ctx.out.write(`Remote "deploy" now points at ${url}/${name}.git; deploy with: git push deploy main\n`);
    },
  },
];
