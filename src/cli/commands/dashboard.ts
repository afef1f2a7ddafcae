import { spawn } from 'node:child_process';
import type { Command } from '../command.js';
import { printJson } from '../output.js';

interface LinkJson {
  path: string;
  expiresAt: string;
}

/**
 * Opens `url` in the desktop's browser when there is one (a display on Linux, or macOS);
 * never fails: on a server over SSH the printed link is the way in.
 */
function openInBrowser(url: string, env: NodeJS.ProcessEnv): boolean {
  const opener = process.platform === 'darwin' ? 'open' : env.DISPLAY || env.WAYLAND_DISPLAY ? 'xdg-open' : undefined;
  if (!opener) return false;
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}

export const dashboardCommands: Command[] = [
  {
    name: 'dashboard',
    summary: 'print (and open, where there is a browser) a one-time link that logs in to the web dashboard for 2 minutes',
    usage: 'slipway dashboard [--no-open] [--json]',
    example: 'slipway dashboard',
    options: { 'no-open': { type: 'boolean' } },
    async run(ctx) {
      const client = ctx.api();
      const link = await client.json<LinkJson>('POST', '/api/session/links', {});
      const url = `${client.connection.url}${link.path}`;
      if (ctx.out.json) return printJson(ctx.out, { url, expiresAt: link.expiresAt });
      ctx.out.write(`Log in to the dashboard (this link works once, for 2 minutes):\n  ${url}\n`);
      if (ctx.options['no-open'] !== true && openInBrowser(url, ctx.env)) ctx.out.write('Opened it in your browser.\n');
    },
  },
];
