import type { Command } from '../command.js';
import { firstArg } from '../command.js';
import { ago, printJson, printList } from '../output.js';

/** As the server keeps it: lower case, without a final dot. */
const normal = (domain: string): string => domain.trim().toLowerCase().replace(/\.$/, '');

interface DomainJson {
  domain: string;
  createdAt: string;
}

export const domainCommands: Command[] = [
  {
    name: 'domains',
    summary: 'the custom domains the router sends to the app, besides APP.<server domain>',
    usage: 'slipway domains [-a APP] [--json]',
    example: 'slipway domains -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const domains = await ctx.api().json<DomainJson[]>('GET', `/api/apps/${app}/domains`);
      printList(ctx.out, domains, `${app} has no custom domains: slipway domains:add www.example.com -a ${app}\n`, ['DOMAIN', 'ADDED'], (d) => [
        d.domain,
        ago(d.createdAt),
      ]);
    },
  },
  {
    name: 'domains:add',
    summary: 'send requests for DOMAIN to the app (point its DNS at the router first)',
    usage: 'slipway domains:add DOMAIN [-a APP] [--json]',
    example: 'slipway domains:add www.example.com -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const domain = firstArg(ctx, 'Give the domain to add: e.g. slipway domains:add www.example.com.');
      const domains = await ctx.api().json<DomainJson[]>('POST', `/api/apps/${app}/domains`, { domain });
      if (ctx.out.json) return printJson(ctx.out, domains);
      ctx.out.write(`Requests for ${normal(domain)} now reach ${app}, from the next one on.\n`);
    },
  },
  {
    name: 'domains:remove',
    summary: 'stop sending requests for DOMAIN to the app (they get 404)',
    usage: 'slipway domains:remove DOMAIN [-a APP] [--json]',
    example: 'slipway domains:remove www.example.com -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const domain = firstArg(ctx, 'Give the domain to remove: e.g. slipway domains:remove www.example.com.');
      const domains = await ctx.api().json<DomainJson[]>('DELETE', `/api/apps/${app}/domains/${encodeURIComponent(normal(domain))}`);
      if (ctx.out.json) return printJson(ctx.out, domains);
      ctx.out.write(`Requests for ${normal(domain)} no longer reach ${app}.\n`);
    },
  },
];
