import { keyValues, type Command, type CommandContext } from '../command.js';
import { CliError } from '../errors.js';
import { printJson, table } from '../output.js';

type SettingsJson = Record<string, number | string | boolean | null>;

/** How each setting's value reads; a setting the server added later shows bare. */
const UNITS: Record<string, string> = {
  memory: 'MiB per container',
  cpus: 'cores per container',
  bootTimeout: 's',
  hookTimeout: 's',
  stopTimeout: 's',
  healthcheckTimeout: 's',
  healthcheckInterval: 's',
};

const APPLIES = 'containers started from now on get the new limits (slipway restart, or deploy); timeouts count from the next deploy, scale or restart';

function show(ctx: CommandContext, app: string, settings: SettingsJson): void {
  const rows = Object.entries(settings).map(([key, value]) => [key, value === null ? 'default' : `${value} ${UNITS[key] ?? ''}`.trim()]);
  ctx.out.write(table(['SETTING', 'VALUE'], rows));
  ctx.out.write(`(${app}; "default": the server's timeout, or no limit)\n`);
}

/** Settings whose value is text, not a number. */
const TEXT_SETTINGS = ['healthcheckPath'];
/** Settings that are true or false. */
const BOOLEAN_SETTINGS = ['forceHttps', 'hsts'];

/** `memory=512 cpus=0.5 healthcheckPath=/up` as numbers (and text for paths); the server checks names and ranges. */
function numbers(args: readonly string[]): Record<string, number | string | boolean> {
  if (args.length === 0) throw new CliError('Give at least one setting: e.g. slipway settings:set memory=512 cpus=0.5.', 2);
  const flags = args.filter((a) => BOOLEAN_SETTINGS.some((key) => a.startsWith(`${key}=`)));
  const text = args.filter((a) => TEXT_SETTINGS.some((key) => a.startsWith(`${key}=`)));
  const number = (value: string): number | undefined => (value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : undefined);
  return {
    ...keyValues(
      flags,
      (value) => (value === 'true' ? true : value === 'false' ? false : undefined),
      (arg) => `"${arg}" is not SETTING=true or SETTING=false; write it as e.g. forceHttps=true`,
    ),
    ...keyValues(
      args.filter((a) => !text.includes(a) && !flags.includes(a)),
      number,
      (arg) => `"${arg}" is not SETTING=NUMBER; write it as e.g. memory=512 or hookTimeout=600`,
    ),
    ...keyValues(
      text,
      (value) => value,
      (arg) => `"${arg}" is not SETTING=VALUE`,
    ),
  };
}

export const settingsCommands: Command[] = [
  {
    name: 'settings',
    summary: "the app's limits (memory, cpus), timeouts (boot, hook, stop) and health check (healthcheckPath, healthcheckTimeout)",
    usage: 'slipway settings [-a APP] [--json]',
    example: 'slipway settings -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const settings = await ctx.api().json<SettingsJson>('GET', `/api/apps/${app}/settings`);
      if (ctx.out.json) return printJson(ctx.out, settings);
      show(ctx, app, settings);
    },
  },
  {
    name: 'settings:set',
    summary:
      'set limits, timeouts, the health check and HTTPS: memory (MiB), cpus (cores), bootTimeout, hookTimeout, stopTimeout, healthcheckTimeout (s), healthcheckPath (/up), forceHttps, hsts (true/false)',
    usage: 'slipway settings:set SETTING=NUMBER... [-a APP] [--json]',
    example: 'slipway settings:set memory=512 cpus=0.5 hookTimeout=600 -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const changes = numbers(ctx.args);
      const settings = await ctx.api().json<SettingsJson>('PATCH', `/api/apps/${app}/settings`, changes);
      if (ctx.out.json) return printJson(ctx.out, settings);
      const routed = Object.keys(changes).every((key) => BOOLEAN_SETTINGS.includes(key));
      // forceHttps and hsts are the router's: they apply at once, to the next request.
      ctx.out.write(`Changed ${Object.keys(changes).join(', ')} of ${app}; ${routed ? 'the router applies it from the next request on' : APPLIES}.\n`);
    },
  },
  {
    name: 'settings:unset',
    summary: "back to the server's timeout, or no limit",
    usage: 'slipway settings:unset SETTING... [-a APP] [--json]',
    example: 'slipway settings:unset memory cpus -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      if (ctx.args.length === 0) throw new CliError('Give at least one setting: e.g. slipway settings:unset memory.', 2);
      const changes = Object.fromEntries(ctx.args.map((key) => [key, null]));
      const settings = await ctx.api().json<SettingsJson>('PATCH', `/api/apps/${app}/settings`, changes);
      if (ctx.out.json) return printJson(ctx.out, settings);
      ctx.out.write(`Reset ${ctx.args.join(', ')} of ${app} to the default; ${APPLIES}.\n`);
    },
  },
  {
    name: 'maintenance',
    summary: 'whether visitors get the maintenance page instead of the app',
    usage: 'slipway maintenance [-a APP] [--json]',
    example: 'slipway maintenance -a my-app',
    async run(ctx) {
      const app = await ctx.app();
      const state = await ctx.api().json<MaintenanceJson>('GET', `/api/apps/${app}/maintenance`);
      if (ctx.out.json) return printJson(ctx.out, state);
      ctx.out.write(state.enabled ? `${app} is in maintenance: ${MAINTENANCE}.\n` : `${app} is not in maintenance: visitors reach the app.\n`);
    },
  },
  {
    name: 'maintenance:on',
    summary: 'show visitors a 503 maintenance page; the containers keep running (run, logs, deploys work)',
    usage: 'slipway maintenance:on [-a APP] [--json]',
    example: 'slipway maintenance:on -a my-app',
    run: (ctx) => setMaintenance(ctx, true),
  },
  {
    name: 'maintenance:off',
    summary: 'serve visitors again',
    usage: 'slipway maintenance:off [-a APP] [--json]',
    example: 'slipway maintenance:off -a my-app',
    run: (ctx) => setMaintenance(ctx, false),
  },
];

interface MaintenanceJson {
  enabled: boolean;
}

const MAINTENANCE = 'visitors get a 503 maintenance page, its containers keep running (slipway maintenance:off to end it)';

async function setMaintenance(ctx: CommandContext, enabled: boolean): Promise<void> {
  const app = await ctx.app();
  const state = await ctx.api().json<MaintenanceJson>('PUT', `/api/apps/${app}/maintenance`, { enabled });
  if (ctx.out.json) return printJson(ctx.out, state);
  ctx.out.write(enabled ? `${app} is in maintenance: ${MAINTENANCE}.\n` : `${app} serves its visitors again.\n`);
}
