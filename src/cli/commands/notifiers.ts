import { firstArg, type Command, type CommandContext } from '../command.js';
import { CliError } from '../errors.js';
import { ago, printJson, printList } from '../output.js';

interface NotifierJson {
  id: number;
  url: string;
  events: string[] | 'all';
  format: string;
  createdAt: string;
}

export interface DeliveryJson {
  id: string;
  notifier: number;
  event: string;
  state: string;
  attempts: number;
  statusCode: number | null;
  error: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
}

/** The notifier id argument: a whole number, else a usage error. */
function notifierId(ctx: CommandContext, usage: string): number {
  const arg = firstArg(ctx, `Give the notifier's id (see slipway notifiers): ${usage}.`);
  if (!/^\d+$/.test(arg)) throw new CliError(`"${arg}" is not a notifier id; ids are numbers, listed by slipway notifiers.`, 2);
  return Number(arg);
}

function outcome(d: DeliveryJson): string {
  if (d.state === 'delivered') return `delivered (HTTP ${d.statusCode})`;
  const why = d.error ?? (d.statusCode === null ? '' : `HTTP ${d.statusCode}`);
  if (d.state === 'failed') return `failed: ${why}`;
  return d.attempts === 0 ? 'queued' : `retrying (${why})`;
}

export const notifierCommands: Command[] = [
  {
    name: 'notifiers',
    summary: "the app's deploy notification webhooks",
    usage: 'slipway notifiers [-a APP] [--json]',
    example: 'slipway notifiers -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const list = await ctx.api().json<NotifierJson[]>('GET', `/api/apps/${app}/notifiers`);
      printList(
        ctx.out,
        list,
        `${app} has no notifiers: slipway notifiers:add https://hooks.example.com/x -a ${app}\n`,
        ['ID', 'FORMAT', 'EVENTS', 'URL', 'ADDED'],
        (n) => [n.id, n.format, n.events === 'all' ? 'all' : n.events.join(','), n.url, ago(n.createdAt)],
      );
    },
  },
  {
    name: 'notifiers:add',
    summary: 'send deploy events to URL (json: signed with a secret shown once; slack: Slack or Mattermost incoming webhook)',
    usage: 'slipway notifiers:add URL [--events deploy.failed,app.crashed] [--format json|slack] [-a APP] [--json]',
    example: 'slipway notifiers:add https://hooks.slack.com/services/T0/B0/XXX --format slack --events deploy.failed',
    options: { events: { type: 'string' }, format: { type: 'string' } },
    async run(ctx) {
      const app = await ctx.app();
      const url = firstArg(ctx, 'Give the webhook URL: e.g. slipway notifiers:add https://hooks.example.com/x.');
      const body = {
        url,
        ...(typeof ctx.options.events === 'string' ? { events: ctx.options.events } : {}),
        ...(typeof ctx.options.format === 'string' ? { format: ctx.options.format } : {}),
      };
      const created = await ctx.api().json<NotifierJson & { secret: string }>('POST', `/api/apps/${app}/notifiers`, body);
      if (ctx.out.json) return printJson(ctx.out, created);
      const events = created.events === 'all' ? 'every event' : created.events.join(', ');
      ctx.out.write(`Notifier ${created.id} sends ${events} of ${app} to ${created.url} as ${created.format}.\n`);
      if (created.format === 'json') {
        ctx.out.write(
          `Secret: ${created.secret}\nThis is the only time it is shown: check each request's X-Slipway-Signature (sha256=HMAC-SHA256 of the body) with it.\n`,
        );
      }
      ctx.out.write(`Try it: slipway notifiers:test ${created.id} -a ${app}\n`);
    },
  },
  {
    name: 'notifiers:remove',
    summary: 'stop sending to a notifier (its queued deliveries are dropped)',
    usage: 'slipway notifiers:remove ID [-a APP]',
    example: 'slipway notifiers:remove 3 -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const id = notifierId(ctx, 'slipway notifiers:remove ID');
      await ctx.api().json('DELETE', `/api/apps/${app}/notifiers/${id}`);
      ctx.out.write(`Removed notifier ${id} of ${app}.\n`);
    },
  },
  {
    name: 'notifiers:test',
    summary: 'send a test notification now and show how the endpoint answered',
    usage: 'slipway notifiers:test ID [-a APP] [--json]',
    example: 'slipway notifiers:test 3 -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const id = notifierId(ctx, 'slipway notifiers:test ID');
      const d = await ctx.api().json<DeliveryJson>('POST', `/api/apps/${app}/notifiers/${id}/test`);
      if (ctx.out.json) return printJson(ctx.out, d);
      if (d.state === 'delivered') return ctx.out.write(`Notifier ${id} works: the endpoint answered HTTP ${d.statusCode} (delivery ${d.id}).\n`);
      ctx.out.write(`Notifier ${id} did not get through: ${d.error ?? `HTTP ${d.statusCode}`}; it is retried, see slipway notifiers:deliveries.\n`);
      return 1;
    },
  },
  {
    name: 'notifiers:deliveries',
    summary: 'the latest deliveries: event, outcome, attempts',
    usage: 'slipway notifiers:deliveries [--notifier ID] [-a APP] [--json]',
    example: 'slipway notifiers:deliveries -a my-app',
    options: { notifier: { type: 'string' } },
    async run(ctx) {
      const app = await ctx.app();
      const only = typeof ctx.options.notifier === 'string' ? `?notifier=${encodeURIComponent(ctx.options.notifier)}` : '';
      const list = await ctx.api().json<DeliveryJson[]>('GET', `/api/apps/${app}/notifiers/deliveries${only}`);
      printList(ctx.out, list, `No deliveries yet for ${app}.\n`, ['NOTIFIER', 'EVENT', 'OUTCOME', 'ATTEMPTS', 'CREATED', 'DELIVERY'], (d) => [
        d.notifier,
        d.event,
        outcome(d),
        d.attempts,
        ago(d.createdAt),
        d.id,
      ]);
    },
  },
];
