import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

/** A setting that cannot be used; the message names it and says what is expected. */
export class ConfigError extends Error {
  constructor(
    message: string,
    /** Where the bad value came from (`the --port flag`, `SLIPWAY_PORT`, the config file's path), when one did. */
    readonly origin?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }

  /** The line for the operator: the message, and where the value came from. */
  get explained(): string {
    return this.origin === undefined ? this.message : `${this.message} (from ${this.origin})`;
  }
}

/** How a setting's values are read and checked, and how its default is shown in the help. */
interface Kind<T> {
  /** A value from a flag or the environment (a string) or from YAML (any value); throws a ConfigError naming `key`. */
  parse(value: unknown, key: string): T;
  show(value: T): string;
}

/**
 * One server setting: everything about it in one row. Parsing, validation, the config file's
 * known keys and `slipway server --help` are all derived from the rows below, so a new setting
 * is one new row (and its reader in the code that uses it).
 */
interface Setting<T> {
  /** Its key in the config file; a dotted key lives in a mapping (`timeouts.boot`). */
  file: string;
  /** Its command-line flag, without the dashes (most settings have none). */
  flag?: string;
  env: string;
  kind: Kind<T>;
  default: T | (() => T);
  /** The default as the help shows it, where `kind.show` would not say it well. */
  shownDefault?: string;
  /** The flag's argument in the help (`<n>`). */
  arg?: string;
  help: string;
}

function setting<T>(row: Setting<T>): Setting<T> {
  return row;
}

const text: Kind<string> = {
  parse(value, key) {
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`"${key}" must be a non-empty string`);
    return value.trim();
  },
  show: (value) => value,
};

const lowerText: Kind<string> = { parse: (value, key) => text.parse(value, key).toLowerCase(), show: (value) => value };

const directory: Kind<string> = {
  parse: (value, key) => path.resolve(expandHome(text.parse(value, key))),
  show: (value) => value,
};

/** A whole number from `min` to `max`, named `what` in the error ("a port number"). */
function wholeNumber(min: number, max: number, what = 'a whole number'): Kind<number> {
  return {
    parse(value, key) {
      const n = toNumber(value);
      if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`"${key}" must be ${what} from ${min} to ${max}, not "${String(value)}"`);
      return n;
    },
    show: String,
  };
}

const port = wholeNumber(1, 65535, 'a port number');

const count = wholeNumber(0, 64);

const mebibytes = wholeNumber(1, 1024 * 1024, 'a whole number of MiB');

/** A directory that has a default elsewhere when unset. */
const optionalDirectory: Kind<string | undefined> = {
  parse: (value, key) => directory.parse(value, key),
  show: (value) => value ?? '',
};

/** A port that is off when unset. */
const optionalPort: Kind<number | undefined> = {
  parse: (value, key) => port.parse(value, key),
  show: (value) => (value === undefined ? 'off' : String(value)),
};

/** A file path that has no default. */
const optionalFile: Kind<string | undefined> = {
  parse: (value, key) => path.resolve(expandHome(text.parse(value, key))),
  show: (value) => value ?? '',
};

const onOff: Kind<boolean> = {
  parse(value, key) {
    if (value === true || value === 'true' || value === '1') return true;
    if (value === false || value === 'false' || value === '0') return false;
    throw new ConfigError(`"${key}" must be true or false, not "${String(value)}"`);
  },
  show: String,
};

/** An http(s) URL, such as an ACME directory. */
const url: Kind<string> = {
  parse(value, key) {
    const given = text.parse(value, key);
    let parsed: URL | undefined;
    try {
      parsed = new URL(given);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:'))
      throw new ConfigError(`"${key}" must be an http(s) URL such as https://acme-v02.api.letsencrypt.org/directory, not "${given}"`);
    return given;
  },
  show: (value) => value,
};

const optionalEmail: Kind<string | undefined> = {
  parse(value, key) {
    const given = text.parse(value, key);
    if (!/^[^@\s]+@[^@\s]+$/.test(given)) throw new ConfigError(`"${key}" must be an email address such as ops@example.com, not "${given}"`);
    return given;
  },
  show: (value) => value ?? '',
};

/** An ACME External Account Binding value (key ID or HMAC key), as the certificate authority shows it. */
const optionalText: Kind<string | undefined> = {
  parse: (value, key) => text.parse(value, key).trim(),
  show: (value) => value ?? '',
};

/** An EAB HMAC key: base64url, as ZeroSSL, Google Trust Services and others give it. */
const optionalBase64url: Kind<string | undefined> = {
  parse(value, key) {
    const given = text.parse(value, key).trim();
    if (!/^[A-Za-z0-9_-]+={0,2}$/.test(given))
      throw new ConfigError(`"${key}" must be the base64url HMAC key your certificate authority gave with the key ID, not "${given}"`);
    return given;
  },
  show: (value) => (value === undefined ? '' : '(set)'),
};

/** A number of lines kept (access logs per app). */
const lineCount = wholeNumber(1, 1_000_000);

/** Seconds in the file, the environment and the help; milliseconds in the program. */
const seconds: Kind<number> = {
  parse(value, key) {
    const n = toNumber(value);
    if (!Number.isFinite(n) || n < 0.001) throw new ConfigError(`"${key}" must be a positive number of seconds, not "${String(value)}"`);
    return Math.round(n * 1000);
  },
  show: (ms) => String(ms / 1000),
};

/** One of a fixed set of words. */
function oneOf<T extends string>(choices: readonly T[]): Kind<T> {
  return {
    parse(value, key) {
      const word = typeof value === 'string' ? value.trim().toLowerCase() : value;
      if (typeof word !== 'string' || !(choices as readonly string[]).includes(word))
        throw new ConfigError(`"${key}" must be ${choices.join(' or ')}, not "${String(value)}"`);
      return word as T;
    },
    show: (value) => value,
  };
}

/** `host:port` of a registry (no scheme, no path): what image names are prefixed with. */
const registryAddress: Kind<string | undefined> = {
  parse(value, key) {
    const address = text.parse(value, key);
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(address))
      throw new ConfigError(`"${key}" must be a registry's HOST:PORT such as 10.0.0.1:5000 (no http://, no path), not "${address}"`);
    return address;
  },
  show: (value) => value ?? '',
};

/** The settings at the top of the config file. The order is the help's and the error messages'. */
const SETTINGS = {
  dataDir: setting({
    file: 'data',
    flag: 'data',
    env: 'SLIPWAY_DATA',
    kind: directory,
    default: () => path.join(os.homedir(), '.slipway'),
    shownDefault: '~/.slipway',
    arg: '<dir>',
    help: 'state directory: database, repositories, app storage',
  }),
  port: setting({ file: 'port', flag: 'port', env: 'SLIPWAY_PORT', kind: port, default: 7070, arg: '<n>', help: 'git and API port' }),
  routerPort: setting({ file: 'routerPort', flag: 'router-port', env: 'SLIPWAY_ROUTER_PORT', kind: port, default: 8080, arg: '<n>', help: 'app traffic port' }),
  host: setting({ file: 'host', flag: 'host', env: 'SLIPWAY_HOST', kind: text, default: '127.0.0.1', arg: '<addr>', help: 'address to bind both ports to' }),
  domain: setting({
    file: 'domain',
    flag: 'domain',
    env: 'SLIPWAY_DOMAIN',
    kind: lowerText,
    default: 'localhost',
    arg: '<name>',
    help: 'apps answer at <app>.<domain>',
  }),
  stackImage: setting({
    file: 'stackImage',
    env: 'SLIPWAY_STACK_IMAGE',
    kind: text,
    default: 'slipway/stack:trixie',
    help: 'image that apps without a Dockerfile are built on',
  }),
  npmRegistry: setting({
    file: 'npmRegistry',
    env: 'SLIPWAY_NPM_REGISTRY',
    kind: text,
    default: 'https://registry.npmjs.org/',
    help: 'npm registry builds install Node, npm, yarn, pnpm and packages from',
  }),
  buildCacheDir: setting({
    file: 'buildCacheDir',
    env: 'SLIPWAY_BUILD_CACHE',
    kind: optionalDirectory,
    default: undefined,
    shownDefault: '<data>/cache/build',
    help: 'Node and npm tarballs kept for builds, downloaded once and shared by every app',
  }),
  routerWorkers: setting({
    file: 'routerWorkers',
    env: 'SLIPWAY_ROUTER_WORKERS',
    kind: count,
    default: defaultRouterWorkers,
    shownDefault: 'cores - 1, at most 4; 0 on 2 cores or fewer',
    help: 'router processes sharing the router port; 0 runs the router in the server process',
  }),
  maxPushMb: setting({
    file: 'maxPushMb',
    env: 'SLIPWAY_MAX_PUSH_MB',
    kind: mebibytes,
    default: 1024,
    help: "largest pack a push may send, in MiB (git's receive.maxInputSize)",
  }),
  minFreeMb: setting({
    file: 'minFreeMb',
    env: 'SLIPWAY_MIN_FREE_MB',
    kind: mebibytes,
    default: 200,
    help: "pushes are refused while the data directory's disk has less free, in MiB",
  }),
  tlsInFront: setting({
    file: 'tlsInFront',
    env: 'SLIPWAY_TLS_IN_FRONT',
    kind: onOff,
    default: false,
    help: 'a TLS proxy terminates connections in front (silences the clear-text warning)',
  }),
  cronSeconds: setting({
    file: 'cronSeconds',
    env: 'SLIPWAY_CRON_SECONDS',
    kind: onOff,
    default: false,
    help: 'tests only: cron.json schedules have six fields, the first for seconds',
  }),
  engine: setting({
    file: 'engine',
    flag: 'engine',
    env: 'SLIPWAY_ENGINE',
    kind: oneOf(['docker', 'swarm'] as const),
    default: 'docker',
    arg: '<docker|swarm>',
    help: 'where apps run: one Docker engine, or a Docker Swarm (run on a manager) that places them on its nodes',
  }),
  registry: setting({
    file: 'registry',
    flag: 'registry',
    env: 'SLIPWAY_REGISTRY',
    kind: registryAddress,
    default: undefined,
    shownDefault: 'none',
    arg: '<host:port>',
    help: "registry the swarm's nodes pull the apps' images from (swarm only)",
  }),
  httpsPort: setting({
    file: 'httpsPort',
    flag: 'https-port',
    env: 'SLIPWAY_HTTPS_PORT',
    kind: optionalPort,
    default: undefined,
    shownDefault: 'off',
    arg: '<n>',
    help: 'HTTPS port the router terminates TLS on for every app',
  }),
  tlsCert: setting({
    file: 'tls.cert',
    env: 'SLIPWAY_TLS_CERT',
    kind: optionalFile,
    default: undefined,
    shownDefault: 'none',
    help: "server-wide default certificate (PEM, with its chain), e.g. for *.<domain>; served when no app's certificate matches",
  }),
  tlsKey: setting({
    file: 'tls.key',
    env: 'SLIPWAY_TLS_KEY',
    kind: optionalFile,
    default: undefined,
    shownDefault: 'none',
    help: "the default certificate's private key (PEM)",
  }),
  apiTls: setting({
    file: 'apiTls',
    env: 'SLIPWAY_API_TLS',
    kind: onOff,
    default: false,
    help: 'the git and API port serves HTTPS with the default certificate (tls.cert, tls.key)',
  }),
  acmeDirectory: setting({
    file: 'acme.directory',
    env: 'SLIPWAY_ACME_DIRECTORY',
    kind: url,
    default: 'https://acme-v02.api.letsencrypt.org/directory',
    help: "ACME directory that certs:auto orders certificates from (Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory)",
  }),
  acmeEmail: setting({
    file: 'acme.email',
    env: 'SLIPWAY_ACME_EMAIL',
    kind: optionalEmail,
    default: undefined,
    shownDefault: 'none',
    help: 'contact address of the ACME account (expiry and policy mail from the certificate authority)',
  }),
  acmeRenewBeforeMs: setting({
    file: 'acme.renewBefore',
    env: 'SLIPWAY_ACME_RENEW_BEFORE',
    kind: seconds,
    default: 30 * 24 * 60 * 60_000,
    help: 'seconds before expiry an automatic certificate is renewed (30 days)',
  }),
  acmeCheckMs: setting({
    file: 'acme.checkInterval',
    env: 'SLIPWAY_ACME_CHECK_INTERVAL',
    kind: seconds,
    default: 12 * 60 * 60_000,
    help: 'seconds between checks for automatic certificates due for renewal (also checked at start)',
  }),
  acmeRetryMs: setting({
    file: 'acme.retry',
    env: 'SLIPWAY_ACME_RETRY',
    kind: seconds,
    default: 60_000,
    help: 'seconds before a failed certificate order is tried again; each later wait is 4 times longer, at most 6 hours',
  }),
  routerMetrics: setting({
    file: 'routerMetrics',
    env: 'SLIPWAY_ROUTER_METRICS',
    kind: onOff,
    default: true,
    help: "the router's access logs and request metrics (false: neither; read when the router starts)",
  }),
  accessLogQuery: setting({
    file: 'accessLogQuery',
    env: 'SLIPWAY_ACCESS_LOG_QUERY',
    kind: onOff,
    default: false,
    help: 'access log paths keep their query string (off: queries often carry tokens)',
  }),
  accessLogLines: setting({
    file: 'accessLogLines',
    env: 'SLIPWAY_ACCESS_LOG_LINES',
    kind: lineCount,
    default: 2000,
    help: "router access log lines kept per app (in the server's memory, about 0.5 KB each)",
  }),
  metricsHistoryHours: setting({
    file: 'metricsHistoryHours',
    env: 'SLIPWAY_METRICS_HISTORY_HOURS',
    kind: count,
    default: 24,
    help: 'hours of per-minute app metrics kept in the database (0: only the last hour, in memory)',
  }),
  nodeDockerHost: setting({
    file: 'nodeDockerHost',
    env: 'SLIPWAY_NODE_DOCKER_HOST',
    kind: text,
    default: 'unix:///var/run/docker.sock',
    help: "each swarm node's engine as that node's docker CLI reaches it, for removing old images there (swarm only; Swarm templates such as {{.Node.Hostname}} allowed)",
  }),
  acmeEabKid: setting({
    file: 'acme.eabKid',
    env: 'SLIPWAY_ACME_EAB_KID',
    kind: optionalText,
    default: undefined,
    shownDefault: 'none',
    help: 'External Account Binding key ID, for certificate authorities that require one (ZeroSSL, Google Trust Services); with acme.eabHmacKey',
  }),
  acmeEabHmacKey: setting({
    file: 'acme.eabHmacKey',
    env: 'SLIPWAY_ACME_EAB_HMAC_KEY',
    kind: optionalBase64url,
    default: undefined,
    shownDefault: 'none',
    help: 'External Account Binding HMAC key (base64url) that goes with acme.eabKid',
  }),
};

/** The `timeouts:` mapping of the config file, in seconds; the defaults are Scalingo's and Heroku's. */
const TIMEOUTS = {
  bootMs: setting({
    file: 'timeouts.boot',
    env: 'SLIPWAY_BOOT_TIMEOUT',
    kind: seconds,
    default: 60_000,
    help: 'seconds a web container has to accept connections on $PORT',
  }),
  hookMs: setting({
    file: 'timeouts.hook',
    env: 'SLIPWAY_HOOK_TIMEOUT',
    kind: seconds,
    default: 20 * 60_000,
    help: 'seconds the postdeploy hook has to finish',
  }),
  stopMs: setting({
    file: 'timeouts.stop',
    env: 'SLIPWAY_STOP_TIMEOUT',
    kind: seconds,
    default: 30_000,
    help: 'seconds from SIGTERM to SIGKILL for old containers',
  }),
  drainMs: setting({
    file: 'timeouts.drain',
    env: 'SLIPWAY_DRAIN_TIMEOUT',
    kind: seconds,
    default: 30_000,
    help: 'seconds in-flight requests to old containers have to end',
  }),
  runMs: setting({
    file: 'timeouts.run',
    env: 'SLIPWAY_RUN_TIMEOUT',
    kind: seconds,
    default: 24 * 60 * 60_000,
    help: 'seconds a detached one-off may run before it is stopped',
  }),
  gitBodyMs: setting({
    file: 'timeouts.gitBody',
    env: 'SLIPWAY_GIT_BODY_TIMEOUT',
    kind: seconds,
    default: 120_000,
    help: 'seconds a git request body may go without a byte before the request is ended',
  }),
  notifyMs: setting({
    file: 'timeouts.notify',
    env: 'SLIPWAY_NOTIFY_TIMEOUT',
    kind: seconds,
    default: 10_000,
    help: 'seconds one attempt to deliver a notification may take',
  }),
  notifyRetryMs: setting({
    file: 'timeouts.notifyRetry',
    env: 'SLIPWAY_NOTIFY_RETRY',
    kind: seconds,
    default: 10_000,
    help: 'seconds before a failed notification is sent again; later waits are 5, 25 and 125 times it',
  }),
  cronMs: setting({
    file: 'timeouts.cron',
    env: 'SLIPWAY_CRON_TIMEOUT',
    kind: seconds,
    default: 60 * 60_000,
    help: "seconds a cron job's run may take before it is stopped",
  }),
};

type Values<T> = { [K in keyof T]: T[K] extends Setting<infer V> ? V : never };

/** How long a boot, a hook, a stop, a drain and a detached one-off may take, in milliseconds. */
export type ServerTimeouts = Values<typeof TIMEOUTS>;
export type ServerConfig = Values<typeof SETTINGS> & { timeouts: ServerTimeouts };

const ROWS: readonly Setting<unknown>[] = [...Object.values(SETTINGS), ...Object.values(TIMEOUTS)];

/** The config file's keys: a top-level key, or a mapping's name with the keys it holds. */
function fileKeys(): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const row of ROWS) {
    const [top, inner] = row.file.split('.') as [string, string | undefined];
    const known = keys.get(top) ?? [];
    if (inner !== undefined) known.push(inner);
    keys.set(top, known);
  }
  return keys;
}

/** Flags win over environment variables, which win over the config file, which wins over defaults. */
export function loadServerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  let flags: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
    for (const row of ROWS) if (row.flag !== undefined) options[row.flag] = { type: 'string' };
    flags = parseArgs({ args: [...argv], options, strict: true }).values as Record<string, string | undefined>;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}; run "slipway server --help" for the options`);
  }
  const configFile = typeof flags.config === 'string' ? flags.config : env.SLIPWAY_CONFIG;
  const file = configFile ? readConfigFile(configFile) : {};

  const resolve = <T>(row: Setting<T>): T => {
    const [top, inner] = row.file.split('.') as [string, string | undefined];
    const fromFile = inner === undefined ? file[top] : (file[top] as Record<string, unknown> | undefined)?.[inner];
    const flagValue = row.flag === undefined ? undefined : flags[row.flag];
    const given: [unknown, string][] = [
      [flagValue, `the --${row.flag} flag`],
      [env[row.env], row.env],
      [fromFile, configFile ?? ''],
    ];
    const found = given.find(([value]) => value !== undefined && value !== null);
    if (found === undefined) return defaultOf(row);
    try {
      return row.kind.parse(found[0], row.file);
    } catch (error) {
      throw error instanceof ConfigError ? new ConfigError(error.message, found[1]) : error;
    }
  };
  const values = <T extends Record<string, Setting<unknown>>>(table: T): Values<T> =>
    Object.fromEntries(Object.entries(table).map(([name, row]) => [name, resolve(row)])) as Values<T>;

  const config = { ...values(SETTINGS), timeouts: values(TIMEOUTS) };
  if (config.engine === 'swarm' && config.registry === undefined) {
    throw new ConfigError(
      "a swarm needs a registry its nodes pull images from: run one on a host every node reaches (docker run -d -p 5000:5000 registry:2, or Debian's docker-registry package) and pass --registry HOST:PORT (SLIPWAY_REGISTRY)",
    );
  }
  if ((config.acmeEabKid === undefined) !== (config.acmeEabHmacKey === undefined)) {
    const missing = config.acmeEabKid === undefined ? 'acme.eabKid (SLIPWAY_ACME_EAB_KID)' : 'acme.eabHmacKey (SLIPWAY_ACME_EAB_HMAC_KEY)';
    throw new ConfigError(`External Account Binding needs both its key ID and its HMAC key: set ${missing} too, as your certificate authority gives them`);
  }
  return config;
}

/** The settings part of `slipway server --help`, from the same rows the parser reads. */
export function settingsHelp(): string {
  const shown = (row: Setting<unknown>): string => row.shownDefault ?? row.kind.show(defaultOf(row));
  const withFlag = ROWS.filter((row) => row.flag !== undefined);
  const withoutFlag = ROWS.filter((row) => row.flag === undefined);
  const flagColumn = (row: Setting<unknown>): string => `--${row.flag} ${row.arg ?? '<value>'}`;
  const flagWidth = Math.max('--config <file.yml>'.length, ...withFlag.map((row) => flagColumn(row).length)) + 2;
  const envWidth = Math.max(...withoutFlag.map((row) => row.env.length)) + 2;
  const fileWidth = Math.max(...withoutFlag.map((row) => row.file.length)) + 2;
  return [
    'Options (each also from its environment variable or config file key):',
    `  ${'--config <file.yml>'.padEnd(flagWidth)}these settings in YAML (env SLIPWAY_CONFIG)`,
    ...withFlag.map((row) => `  ${flagColumn(row).padEnd(flagWidth)}${row.help} (env ${row.env}, file ${row.file}, default ${shown(row)})`),
    '',
    'Settings without a flag (environment variable, config file key):',
    ...withoutFlag.map((row) => `  ${row.env.padEnd(envWidth)}${row.file.padEnd(fileWidth)}${row.help} (default ${shown(row)})`),
    '',
    'A flag wins over the environment, which wins over the config file. A dotted key is nested in',
    'the file: timeouts: { boot: 120 }.',
    '',
  ].join('\n');
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
  const known = fileKeys();
  for (const [key, inner] of Object.entries(settings)) {
    const innerKeys = known.get(key);
    if (innerKeys === undefined) throw new ConfigError(`${file}: unknown setting "${key}"; the settings are ${[...known.keys()].join(', ')}`);
    if (innerKeys.length > 0) checkMapping(file, key, inner, innerKeys);
  }
  return settings;
}

function checkMapping(file: string, key: string, value: unknown, known: readonly string[]): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    const example = ROWS.filter((row) => row.file.startsWith(`${key}.`))
      .slice(0, 3)
      .map((row) => `${row.file.slice(key.length + 1)}: ${row.kind.show(defaultOf(row))}`)
      .join(', ');
    throw new ConfigError(`${file}: "${key}" must be a mapping such as { ${example} }`);
  }
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) throw new ConfigError(`${file}: unknown setting "${key}.${k}"; expected ${known.join(', ')}`);
  }
}

function defaultOf<T>(row: Setting<T>): T {
  return typeof row.default === 'function' ? (row.default as () => T)() : row.default;
}

/** A number from YAML, or a decimal string from a flag or the environment; anything else is NaN. */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return Number.NaN;
}

/**
 * Router processes pay off only with cores to spare beside the apps and the load itself: on
 * two cores the in-process router measured faster (scripts/bench/router).
 */
function defaultRouterWorkers(): number {
  const cores = os.availableParallelism();
  return cores > 2 ? Math.min(cores - 1, 4) : 0;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}
