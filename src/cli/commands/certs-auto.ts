import type { Command } from '../command.js';
import { printJson } from '../output.js';

interface AutoJson {
  enabled: boolean;
  domains: { domain: string; state: string; lastError: string | null; nextAttemptAt: string | null }[];
}

export const certsAutoCommands: Command[] = [
  {
    name: 'certs:auto',
    summary: "order and renew certificates for the app's domains automatically (ACME, HTTP-01 on the router's port); --disable stops",
    usage: 'slipway certs:auto [--disable] [-a APP] [--json]',
    example: 'slipway certs:auto -a my-app',
    options: { disable: { type: 'boolean' } },
    async run(ctx) {
      const app = await ctx.app();
      const enabled = ctx.options.disable !== true;
      const auto = await ctx.api().json<AutoJson>('PUT', `/api/apps/${app}/certs/auto`, { enabled });
      if (ctx.out.json) return printJson(ctx.out, auto);
      if (!enabled) {
        ctx.out.write(`Automatic certificates are off for ${app}: nothing is ordered or renewed, and its automatic certificates are removed.\n`);
        return;
      }
      if (auto.domains.length === 0) {
        ctx.out.write(
          `Automatic certificates are on for ${app}, but it has no domain that can get one: add it with slipway domains:add www.example.com -a ${app}\n`,
        );
        return;
      }
      ctx.out.write(`Automatic certificates are on for ${app}; ordering for ${auto.domains.map((d) => d.domain).join(', ')}.\n`);
      ctx.out.write(`Follow with: slipway certs -a ${app}\n`);
    },
  },
];
