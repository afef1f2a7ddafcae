import { firstArg, type Command } from '../command.js';
import { saveConnection } from '../connection.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { ago, printJson, printList } from '../output.js';

export const tokenCommands: Command[] = [
  {
    name: 'login',
    summary: 'save the server URL and token in ~/.config/slipway/config.yml (0600)',
    usage: 'slipway login --url URL --token TOKEN',
    example: 'slipway login --url http://127.0.0.1:7070 --token slw_…',
    options: { url: { type: 'string' }, token: { type: 'string' } },
    async run(ctx) {
      const url = typeof ctx.options.url === 'string' ? ctx.options.url.replace(/\/+$/, '') : undefined;
      const token = typeof ctx.options.token === 'string' ? ctx.options.token : undefined;
      if (!url || !token) throw new CliError('Give both: slipway login --url URL --token TOKEN.', 2);
      // Check before saving: a typo should not be written down.
      await new ApiClient({ url, token }).json('GET', '/api/apps');
      const file = saveConnection(ctx.env, { url, token });
      ctx.out.write(`Logged in to ${url}; saved in ${file}.\n`);
    },
  },
  {
    name: 'tokens',
    summary: 'list the named tokens (admin token only)',
    usage: 'slipway tokens [--json]',
    example: 'slipway tokens',
    async run(ctx) {
      const tokens = await ctx.api().json<{ name: string; createdAt: string }[]>('GET', '/api/tokens');
      printList(ctx.out, tokens, 'No named tokens: slipway tokens:create NAME\n', ['NAME', 'CREATED'], (t) => [t.name, ago(t.createdAt)]);
    },
  },
  {
    name: 'tokens:create',
    summary: 'create a named token; it is shown this once',
    usage: 'slipway tokens:create NAME [--json]',
    example: 'slipway tokens:create ci',
    async run(ctx) {
      const name = firstArg(ctx, 'Name the token: slipway tokens:create NAME.');
      const created = await ctx.api().json<{ name: string; token: string }>('POST', '/api/tokens', { name });
      if (ctx.out.json) return printJson(ctx.out, created);
      ctx.out.write(`${created.token}\nThis is the only time the token "${created.name}" is shown: store it now.\n`);
    },
  },
  {
    name: 'tokens:revoke',
    summary: 'revoke a named token; it stops working at once',
    usage: 'slipway tokens:revoke NAME',
    example: 'slipway tokens:revoke ci',
    async run(ctx) {
      const name = firstArg(ctx, 'Name the token to revoke: slipway tokens:revoke NAME.');
      await ctx.api().json('DELETE', `/api/tokens/${encodeURIComponent(name)}`);
      ctx.out.write(`Revoked ${name}.\n`);
    },
  },
];
