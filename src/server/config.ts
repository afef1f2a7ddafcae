import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import type { Timeouts } from '../deploy/processes.js';

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  routerPort: number;
  domain: string;
  stackImage: string;
  /** The npm registry builds install Node, npm, yarn, pnpm and packages from. */
  npmRegistry: string;
  /** Node and npm tarballs kept for builds, downloaded once (shared by every app); default DATA/cache/build. */
  buildCacheDir?: string;
  /** Router processes sharing the router port; 0 runs the router inside the server process. */
  routerWorkers: number;
  /** The largest pack a push may send, in MiB (git's receive.maxInputSize). */
  maxPushMb: number;
  /** Pushes are refused while the data directory's disk has less free, in MiB. */
  minFreeMb: number;
  /** A TLS proxy terminates connections in front of Slipway (silences the clear-text warning). */
  tlsInFront: boolean;
  timeouts: ServerTimeouts;
}

export interface ServerTimeouts extends Timeouts {
  /** How long a detached one-off may run before it is stopped (its container kept for its logs). */
  runMs: number;
  /** How long a git request's body may go without a byte before the request is ended. */
  gitBodyMs: number;
}

/** A setting that cannot be used; the message names it and says what is expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DEFAULT_TIMEOUTS_S = { boot: 60, hook: 20 * 60, stop: 30, drain: 30, run: 24 * 60 * 60, gitBody: 120 };
const FILE_KEYS = ['data', 'port', 'routerPort', 'host', 'domain', 'stackImage', 'npmRegistry', 'buildCacheDir', 'routerWorkers', 'maxPushMb', 'minFreeMb', 'tlsInFront', 'timeouts'];

/** Flags win over environment variables, which win over the config file, which wins over defaults. */
export function loadServerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        'router-port': { type: 'string' },
        host: { type: 'string' },
        domain: { type: 'string' },
        config: { type: 'string' },
      },
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}; run "slipway server --help" for the options`);
  }
  const flags = parsed.values;
  const configFile = flags.config ?? env.SLIPWAY_CONFIG;
  const file = configFile ? readConfigFile(configFile) : {};
  const fileTimeouts = objectAt(file, 'timeouts', configFile ?? '');

  const pick = (flag: string | undefined, envValue: string | undefined, fileValue: unknown): unknown =>
    flag ?? envValue ?? fileValue;

  const buildCacheDir = optionalPath(stringSetting('buildCacheDir', pick(undefined, env.SLIPWAY_BUILD_CACHE, file.buildCacheDir)));
  return {
    ...(buildCacheDir === undefined ? {} : { buildCacheDir }),
    dataDir: path.resolve(
      expandHome(stringSetting('data', pick(flags.data, env.SLIPWAY_DATA, file.data)) ?? path.join(os.homedir(), '.slipway')),
    ),
    host: stringSetting('host', pick(flags.host, env.SLIPWAY_HOST, file.host)) ?? '127.0.0.1',
    port: portSetting('port', pick(flags.port, env.SLIPWAY_PORT, file.port)) ?? 7070,
    routerPort: portSetting('routerPort', pick(flags['router-port'], env.SLIPWAY_ROUTER_PORT, file.routerPort)) ?? 8080,
    domain: (stringSetting('domain', pick(flags.domain, env.SLIPWAY_DOMAIN, file.domain)) ?? 'localhost').toLowerCase(),
    stackImage: stringSetting('stackImage', pick(undefined, env.SLIPWAY_STACK_IMAGE, file.stackImage)) ?? 'slipway/stack:trixie',
    npmRegistry: stringSetting('npmRegistry', pick(undefined, env.SLIPWAY_NPM_REGISTRY, file.npmRegistry)) ?? 'https://registry.npmjs.org/',
    routerWorkers: countSetting('routerWorkers', pick(undefined, env.SLIPWAY_ROUTER_WORKERS, file.routerWorkers)) ?? defaultRouterWorkers(),
    maxPushMb: sizeSetting('maxPushMb', pick(undefined, env.SLIPWAY_MAX_PUSH_MB, file.maxPushMb)) ?? 1024,
    minFreeMb: sizeSetting('minFreeMb', pick(undefined, env.SLIPWAY_MIN_FREE_MB, file.minFreeMb)) ?? 200,
    tlsInFront: booleanSetting('tlsInFront', pick(undefined, env.SLIPWAY_TLS_IN_FRONT, file.tlsInFront)) ?? false,
    timeouts: {
      bootMs: secondsSetting('timeouts.boot', pick(undefined, env.SLIPWAY_BOOT_TIMEOUT, fileTimeouts.boot), DEFAULT_TIMEOUTS_S.boot),
      hookMs: secondsSetting('timeouts.hook', pick(undefined, env.SLIPWAY_HOOK_TIMEOUT, fileTimeouts.hook), DEFAULT_TIMEOUTS_S.hook),
      stopMs: secondsSetting('timeouts.stop', pick(undefined, env.SLIPWAY_STOP_TIMEOUT, fileTimeouts.stop), DEFAULT_TIMEOUTS_S.stop),
      drainMs: secondsSetting('timeouts.drain', pick(undefined, env.SLIPWAY_DRAIN_TIMEOUT, fileTimeouts.drain), DEFAULT_TIMEOUTS_S.drain),
      runMs: secondsSetting('timeouts.run', pick(undefined, env.SLIPWAY_RUN_TIMEOUT, fileTimeouts.run), DEFAULT_TIMEOUTS_S.run),
      gitBodyMs: secondsSetting('timeouts.gitBody', pick(undefined, env.SLIPWAY_GIT_BODY_TIMEOUT, fileTimeouts.gitBody), DEFAULT_TIMEOUTS_S.gitBody),
    },
  };
}

function optionalPath(value: string | undefined): string | undefined {
  return value === undefined ? undefined : path.resolve(expandHome(value));
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${file} (${(error as NodeJS.ErrnoException).code}); check the --config path`);
  }
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file} must be a YAML mapping of settings`);
  const settings = value as Record<string, unknown>;
  for (const key of Object.keys(settings)) {
    if (!FILE_KEYS.includes(key)) throw new ConfigError(`${file}: unknown setting "${key}"; the settings are ${FILE_KEYS.join(', ')}`);
  }
  return settings;
}

function objectAt(file: Record<string, unknown>, key: string, name: string): Record<string, unknown> {
  const value = file[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${name}: "${key}" must be a mapping such as { boot: 60, hook: 1200, stop: 30 }`);
  }
  const known = ['boot', 'hook', 'stop', 'drain', 'run', 'gitBody'];
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) throw new ConfigError(`${name}: unknown setting "${key}.${k}"; expected ${known.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

function stringSetting(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`"${key}" must be a non-empty string`);
  return value.trim();
}

/** A number from YAML, or a decimal string from a flag or the environment; anything else is NaN. */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return Number.NaN;
}

function portSetting(key: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`"${key}" must be a port number from 1 to 65535, not "${String(value)}"`);
  return n;
}

function booleanSetting(key: string, value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw new ConfigError(`"${key}" must be true or false, not "${String(value)}"`);
}

function sizeSetting(key: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024 * 1024) throw new ConfigError(`"${key}" must be a whole number of MiB from 1 to 1048576, not "${String(value)}"`);
  return n;
}

function countSetting(key: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new ConfigError(`"${key}" must be a whole number from 0 to 64, not "${String(value)}"`);
  return n;
}

/**
 * Router processes pay off only with cores to spare beside the apps and the load itself: on
 * two cores the in-process router measured faster (scripts/bench/router).
 */
function defaultRouterWorkers(): number {
  const cores = os.availableParallelism();
  return cores > 2 ? Math.min(cores - 1, 4) : 0;
}

function secondsSetting(key: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback * 1000;
  const n = toNumber(value);
  if (!Number.isFinite(n) || n < 0.001) throw new ConfigError(`"${key}" must be a positive number of seconds, not "${String(value)}"`);
  return Math.round(n * 1000);
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}
