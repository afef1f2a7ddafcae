import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadServerConfig, settingsHelp, type ServerConfig } from '../../src/server/config.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-config-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCounter = 0;
function yamlFile(text: string): string {
  const file = path.join(dir, `config-${++fileCounter}.yaml`);
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe('ConfigError');
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const DEFAULTS: ServerConfig = {
  dataDir: path.resolve(os.homedir(), '.slipway'),
  host: '127.0.0.1',
  port: 7070,
  routerPort: 8080,
  domain: 'localhost',
  stackImage: 'slipway/stack:trixie',
  npmRegistry: 'https://registry.npmjs.org/',
  buildCacheDir: undefined,
  routerWorkers: os.availableParallelism() > 2 ? Math.min(os.availableParallelism() - 1, 4) : 0,
  maxPushMb: 1024,
  minFreeMb: 200,
  tlsInFront: false,
  cronSeconds: false,
  engine: 'docker',
  registry: undefined,
  httpsPort: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  apiTls: false,
  acmeDirectory: 'https://acme-v02.api.letsencrypt.org/directory',
  acmeEmail: undefined,
  acmeRenewBeforeMs: 2_592_000_000,
  acmeCheckMs: 43_200_000,
  acmeRetryMs: 60_000,
  routerMetrics: true,
  accessLogQuery: false,
  accessLogLines: 2000,
  metricsHistoryHours: 24,
  nodeDockerHost: 'unix:///var/run/docker.sock',
  acmeEabKid: undefined,
  acmeEabHmacKey: undefined,
  timeouts: {
    bootMs: 60_000,
    hookMs: 1_200_000,
    stopMs: 30_000,
    drainMs: 30_000,
    runMs: 86_400_000,
    gitBodyMs: 120_000,
    notifyMs: 10_000,
    notifyRetryMs: 10_000,
    cronMs: 3_600_000,
  },
};

/** The defaults with `settings` and `timeouts` changed: what a source that sets only those gives. */
function withDefaults(settings: Partial<ServerConfig>, timeouts: Partial<ServerConfig['timeouts']> = {}): ServerConfig {
  return { ...DEFAULTS, ...settings, timeouts: { ...DEFAULTS.timeouts, ...timeouts } };
}

describe('loadServerConfig: defaults', () => {
  test('no flags, no env, no file', () => {
    expect(loadServerConfig([], {})).toEqual(DEFAULTS);
  });

  test('the default data directory is ~/.slipway, absolute', () => {
    const { dataDir } = loadServerConfig([], {});
    expect(path.isAbsolute(dataDir)).toBe(true);
    expect(dataDir).toBe(path.join(os.homedir(), '.slipway'));
  });

  test('unrelated environment variables are ignored', () => {
    expect(loadServerConfig([], { PORT: '1234', HOST: '0.0.0.0', DATA: '/x' })).toEqual(DEFAULTS);
  });

  test('an empty config file gives the defaults', () => {
    expect(loadServerConfig(['--config', yamlFile('')], {})).toEqual(DEFAULTS);
    expect(loadServerConfig(['--config', yamlFile('# only a comment\n')], {})).toEqual(DEFAULTS);
  });
});

describe('loadServerConfig: precedence flag > env > file > default', () => {
  const file = (): string =>
    yamlFile(
      [
        'data: /from/file',
        'port: 7001',
        'routerPort: 8001',
        'host: 10.0.0.1',
        'domain: file.example',
        'stackImage: file/stack:1',
        'routerWorkers: 3',
        'timeouts:',
        '  boot: 11',
        '  hook: 12',
        '  stop: 13',
        '  drain: 14',
        '  run: 15',
        '  gitBody: 16',
        '',
      ].join('\n'),
    );

  const env = {
    SLIPWAY_DATA: '/from/env',
    SLIPWAY_PORT: '7002',
    SLIPWAY_ROUTER_PORT: '8002',
    SLIPWAY_HOST: '10.0.0.2',
    SLIPWAY_DOMAIN: 'env.example',
    SLIPWAY_STACK_IMAGE: 'env/stack:2',
    SLIPWAY_ROUTER_WORKERS: '0',
    SLIPWAY_BOOT_TIMEOUT: '21',
    SLIPWAY_HOOK_TIMEOUT: '22',
    SLIPWAY_STOP_TIMEOUT: '23',
    SLIPWAY_DRAIN_TIMEOUT: '24',
    SLIPWAY_RUN_TIMEOUT: '25',
    SLIPWAY_GIT_BODY_TIMEOUT: '26',
  };

  const flags = ['--data', '/from/flag', '--port', '7003', '--router-port', '8003', '--host', '10.0.0.3', '--domain', 'flag.example'];

  /** The timeouts' first six, in seconds as written (the rest keep their defaults). */
  const timeouts = (boot: number, hook: number, stop: number, drain: number, run: number, gitBody: number): Partial<ServerConfig['timeouts']> => ({
    bootMs: boot * 1000,
    hookMs: hook * 1000,
    stopMs: stop * 1000,
    drainMs: drain * 1000,
    runMs: run * 1000,
    gitBodyMs: gitBody * 1000,
  });
  const fromFile = {
    dataDir: '/from/file',
    host: '10.0.0.1',
    port: 7001,
    routerPort: 8001,
    domain: 'file.example',
    stackImage: 'file/stack:1',
    routerWorkers: 3,
  };
  const fromEnv = { dataDir: '/from/env', host: '10.0.0.2', port: 7002, routerPort: 8002, domain: 'env.example', stackImage: 'env/stack:2', routerWorkers: 0 };
  // No flag exists for stackImage, routerWorkers or the timeouts, so the environment still wins there.
  const fromFlags = { ...fromEnv, dataDir: '/from/flag', host: '10.0.0.3', port: 7003, routerPort: 8003, domain: 'flag.example' };

  test.each<[string, () => string[], Record<string, string>, ServerConfig]>([
    ['the file beats the defaults', () => ['--config', file()], {}, withDefaults(fromFile, timeouts(11, 12, 13, 14, 15, 16))],
    ['the environment beats the file', () => ['--config', file()], env, withDefaults(fromEnv, timeouts(21, 22, 23, 24, 25, 26))],
    ['flags beat the environment and the file', () => ['--config', file(), ...flags], env, withDefaults(fromFlags, timeouts(21, 22, 23, 24, 25, 26))],
  ])('%s', (_name, argv, environment, expected) => {
    expect(loadServerConfig(argv(), environment)).toEqual(expected);
  });

  test('flags beat the environment without a file', () => {
    const config = loadServerConfig(['--port=9100'], { SLIPWAY_PORT: '9200', SLIPWAY_ROUTER_PORT: '9300' });
    expect(config.port).toBe(9100);
    expect(config.routerPort).toBe(9300);
    expect(config.host).toBe('127.0.0.1');
  });

  test('each level only overrides the settings it sets', () => {
    const config = loadServerConfig(['--config', yamlFile('port: 7001\ndomain: file.example\n'), '--domain', 'flag.example'], {
      SLIPWAY_HOST: '0.0.0.0',
    });
    expect(config).toEqual(withDefaults({ port: 7001, domain: 'flag.example', host: '0.0.0.0' }));
  });

  test('the config file can come from SLIPWAY_CONFIG', () => {
    const config = loadServerConfig([], { SLIPWAY_CONFIG: yamlFile('port: 7555\n') });
    expect(config.port).toBe(7555);
  });

  test('--config beats SLIPWAY_CONFIG', () => {
    const config = loadServerConfig(['--config', yamlFile('port: 7666\n')], { SLIPWAY_CONFIG: yamlFile('port: 7777\n') });
    expect(config.port).toBe(7666);
  });
});

describe('loadServerConfig: values', () => {
  test('timeouts: {boot: 5} in YAML gives bootMs 5000 and keeps the other defaults', () => {
    const config = loadServerConfig(['--config', yamlFile('timeouts: {boot: 5}\n')], {});
    expect(config.timeouts).toEqual({ ...DEFAULTS.timeouts, bootMs: 5000 });
  });

  test('fractional seconds become whole milliseconds', () => {
    const config = loadServerConfig(['--config', yamlFile('timeouts: {stop: 1.5, drain: 0.25}\n')], { SLIPWAY_HOOK_TIMEOUT: '2.0004' });
    expect(config.timeouts.stopMs).toBe(1500);
    expect(config.timeouts.drainMs).toBe(250);
    expect(config.timeouts.hookMs).toBe(2000);
  });

  test('a port given as a YAML string is accepted', () => {
    expect(loadServerConfig(['--config', yamlFile('port: "7100"\n')], {}).port).toBe(7100);
  });

  test('ports 1 and 65535 are accepted', () => {
    const config = loadServerConfig(['--port', '1', '--router-port', '65535'], {});
    expect(config.port).toBe(1);
    expect(config.routerPort).toBe(65535);
  });

  test('the domain is lower-cased and strings are trimmed', () => {
    const config = loadServerConfig(['--domain', '  Apps.Example.COM ', '--host', ' 0.0.0.0 '], {});
    expect(config.domain).toBe('apps.example.com');
    expect(config.host).toBe('0.0.0.0');
  });

  test('a ~/ data directory is expanded to the home directory', () => {
    expect(loadServerConfig(['--data', '~/slipway-data'], {}).dataDir).toBe(path.join(os.homedir(), 'slipway-data'));
    expect(loadServerConfig(['--data', '~'], {}).dataDir).toBe(os.homedir());
  });

  test('a relative data directory is resolved against the working directory', () => {
    expect(loadServerConfig(['--data', 'rel/data'], {}).dataDir).toBe(path.resolve(process.cwd(), 'rel/data'));
  });
});

describe('loadServerConfig: errors', () => {
  test.each([
    ['0', ['--port', '0']],
    ['65536', ['--port', '65536']],
    ['-1', ['--port=-1']],
    ['http', ['--port', 'http']],
    ['80.5', ['--port', '80.5']],
  ])('invalid port %s from a flag names "port"', (value, argv) => {
    const error = configError(() => loadServerConfig(argv, {}));
    expect(error.message).toBe(`"port" must be a port number from 1 to 65535, not "${value}"`);
  });

  test('invalid router port from the environment names "routerPort"', () => {
    const error = configError(() => loadServerConfig([], { SLIPWAY_ROUTER_PORT: '99999' }));
    expect(error.message).toBe('"routerPort" must be a port number from 1 to 65535, not "99999"');
  });

  test('invalid port in the file names "port"', () => {
    const error = configError(() => loadServerConfig(['--config', yamlFile('port: 70000\n')], {}));
    expect(error.message).toBe('"port" must be a port number from 1 to 65535, not "70000"');
  });

  test('an unknown YAML key is named', () => {
    const file = yamlFile('port: 7070\nlisten: 0.0.0.0\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toBe(
      `${file}: unknown setting "listen"; the settings are data, port, routerPort, host, domain, stackImage, npmRegistry, buildCacheDir, routerWorkers, maxPushMb, minFreeMb, tlsInFront, cronSeconds, engine, registry, httpsPort, tls, apiTls, acme, routerMetrics, accessLogQuery, accessLogLines, metricsHistoryHours, nodeDockerHost, timeouts`,
    );
  });

  test('the engine is docker or swarm, and a swarm needs a registry', () => {
    expect(loadServerConfig(['--engine', 'swarm', '--registry', '10.0.0.1:5000'], {})).toMatchObject({ engine: 'swarm', registry: '10.0.0.1:5000' });
    expect(loadServerConfig([], { SLIPWAY_ENGINE: 'Swarm', SLIPWAY_REGISTRY: 'registry.local' })).toMatchObject({
      engine: 'swarm',
      registry: 'registry.local',
    });
    expect(configError(() => loadServerConfig(['--engine', 'kubernetes'], {})).explained).toBe(
      '"engine" must be docker or swarm, not "kubernetes" (from the --engine flag)',
    );
    expect(configError(() => loadServerConfig(['--engine', 'swarm'], {})).message).toMatch(
      /^a swarm needs a registry its nodes pull images from: run one .* and pass --registry HOST:PORT \(SLIPWAY_REGISTRY\)$/,
    );
    expect(configError(() => loadServerConfig(['--registry', 'http://10.0.0.1:5000/v2'], {})).message).toBe(
      '"registry" must be a registry\'s HOST:PORT such as 10.0.0.1:5000 (no http://, no path), not "http://10.0.0.1:5000/v2"',
    );
  });

  test('an unknown timeouts key is named', () => {
    const file = yamlFile('timeouts:\n  boot: 5\n  build: 10\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toBe(`${file}: unknown setting "timeouts.build"; expected boot, hook, stop, drain, run, gitBody, notify, notifyRetry, cron`);
  });

  test('timeouts that is not a mapping', () => {
    const file = yamlFile('timeouts: 30\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toMatch(/"timeouts" must be a mapping/);
    expect(error.message.startsWith(`${file}: `)).toBe(true);
  });

  test.each([
    ['0', 'SLIPWAY_BOOT_TIMEOUT', 'timeouts.boot'],
    ['-5', 'SLIPWAY_HOOK_TIMEOUT', 'timeouts.hook'],
    ['soon', 'SLIPWAY_STOP_TIMEOUT', 'timeouts.stop'],
    ['Infinity', 'SLIPWAY_DRAIN_TIMEOUT', 'timeouts.drain'],
  ])('invalid timeout %s in %s names %s', (value, variable, key) => {
    const error = configError(() => loadServerConfig([], { [variable]: value }));
    expect(error.message).toBe(`"${key}" must be a positive number of seconds, not "${value}"`);
  });

  test.each([['--verbose'], ['--port'], ['positional']])('unknown or malformed argument %s', (arg) => {
    const error = configError(() => loadServerConfig([arg], {}));
    expect(error.message).toMatch(/; run "slipway server --help" for the options$/);
  });

  test('an unknown flag is named in the message', () => {
    const error = configError(() => loadServerConfig(['--bogus-flag', 'x'], {}));
    expect(error.message).toContain('--bogus-flag');
  });

  test('a missing config file', () => {
    const file = path.join(dir, 'does-not-exist.yaml');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toBe(`cannot read the config file ${file} (ENOENT); check the --config path`);
  });

  test('a directory as the config file', () => {
    const error = configError(() => loadServerConfig(['--config', dir], {}));
    expect(error.message).toBe(`cannot read the config file ${dir} (EISDIR); check the --config path`);
  });

  test('an unreadable config file (a path below a plain file)', () => {
    const below = path.join(yamlFile('port: 7070\n'), 'config.yaml');
    const error = configError(() => loadServerConfig(['--config', below], {}));
    expect(error.message).toBe(`cannot read the config file ${below} (ENOTDIR); check the --config path`);
  });

  test('invalid YAML', () => {
    const file = yamlFile('port: [7070\nhost: x\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message.startsWith(`${file} is not valid YAML: `)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  test.each([
    ['a list', '- port: 7070\n'],
    ['a scalar', 'just a string\n'],
  ])('a YAML document that is %s, not a mapping', (_name, text) => {
    const file = yamlFile(text);
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toBe(`${file} must be a YAML mapping of settings`);
  });

  test.each([
    ['host', ['--host', '   ']],
    ['domain', ['--domain', '']],
    ['data', ['--data', '']],
  ])('an empty %s is refused', (key, argv) => {
    const error = configError(() => loadServerConfig(argv, {}));
    expect(error.message).toBe(`"${key}" must be a non-empty string`);
  });

  test('a non-string host in the file is refused', () => {
    const error = configError(() => loadServerConfig(['--config', yamlFile('host: 12\n')], {}));
    expect(error.message).toBe('"host" must be a non-empty string');
  });
});

describe('loadServerConfig: only real numbers count', () => {
  test.each<[string, () => unknown, string]>([
    ['a boolean port in YAML', () => loadServerConfig(['--config', yamlFile('port: true\n')], {}), '"port" must be a port number'],
    ['a list as router port', () => loadServerConfig(['--config', yamlFile('routerPort: [8081]\n')], {}), '"routerPort" must be a port number'],
    ['a hexadecimal port in the environment', () => loadServerConfig([], { SLIPWAY_PORT: '0x50' }), '"port" must be a port number'],
    ['a boolean timeout', () => loadServerConfig(['--config', yamlFile('timeouts: { boot: true }\n')], {}), '"timeouts.boot" must be a positive number'],
    [
      'a timeout that rounds to 0 ms',
      () => loadServerConfig(['--config', yamlFile('timeouts: { boot: 0.0001 }\n')], {}),
      '"timeouts.boot" must be a positive number',
    ],
  ])('%s is refused', (_name, load, message) => {
    expect(configError(load).message).toContain(message);
  });
});

describe('loadServerConfig: HTTPS', () => {
  test('httpsPort is off unless set; tls.cert and tls.key are paths in a tls mapping; apiTls is on or off', () => {
    expect(loadServerConfig([], {}).httpsPort).toBeUndefined();
    expect(loadServerConfig(['--https-port', '8443'], {}).httpsPort).toBe(8443);
    expect(loadServerConfig([], { SLIPWAY_HTTPS_PORT: '443' }).httpsPort).toBe(443);
    const config = loadServerConfig(
      ['--config', yamlFile('httpsPort: 9443\ntls:\n  cert: /etc/slipway/cert.pem\n  key: /etc/slipway/key.pem\napiTls: true\n')],
      {},
    );
    expect(config).toMatchObject({ httpsPort: 9443, tlsCert: '/etc/slipway/cert.pem', tlsKey: '/etc/slipway/key.pem', apiTls: true });
    expect(() => loadServerConfig(['--https-port', '0'], {})).toThrow('"httpsPort" must be a port number from 1 to 65535, not "0"');
  });
});

describe('loadServerConfig: tlsInFront', () => {
  test('true from the environment or the file; anything but a boolean is refused', () => {
    expect(loadServerConfig([], { SLIPWAY_TLS_IN_FRONT: '1' }).tlsInFront).toBe(true);
    expect(loadServerConfig(['--config', yamlFile('tlsInFront: true\n')], {}).tlsInFront).toBe(true);
    expect(configError(() => loadServerConfig([], { SLIPWAY_TLS_IN_FRONT: 'yes' })).message).toBe('"tlsInFront" must be true or false, not "yes"');
  });
});

describe('loadServerConfig: where a bad value came from', () => {
  test.each<[string, () => unknown, string]>([
    ['a flag', () => loadServerConfig(['--port', '0'], {}), 'the --port flag'],
    ['the environment', () => loadServerConfig([], { SLIPWAY_ROUTER_WORKERS: '65' }), 'SLIPWAY_ROUTER_WORKERS'],
    ['the file', () => loadServerConfig(['--config', yamlFile('maxPushMb: 0\n')], {}), 'the file'],
    ['a nested key in the file', () => loadServerConfig(['--config', yamlFile('timeouts: { run: -1 }\n')], {}), 'the file'],
  ])('an error from %s names it', (_name, load, origin) => {
    const error = configError(load);
    const expected = origin === 'the file' ? expect.stringMatching(/config-\d+\.yaml$/) : origin;
    expect(error.origin).toEqual(expected);
    expect(error.explained).toBe(`${error.message} (from ${String(error.origin)})`);
  });

  test('the flag is named even when the environment and the file set the same setting', () => {
    const error = configError(() => loadServerConfig(['--config', yamlFile('port: 7001\n'), '--port', 'http'], { SLIPWAY_PORT: '7002' }));
    expect(error.origin).toBe('the --port flag');
  });

  test('an error about the file itself names the file in its message', () => {
    const file = yamlFile('timeouts: 30\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.origin).toBeUndefined();
    expect(error.explained).toBe(`${file}: "timeouts" must be a mapping such as { boot: 60, hook: 1200, stop: 30 }`);
  });
});

describe('settingsHelp: derived from the settings the parser reads', () => {
  const help = settingsHelp();
  const variables = [
    'SLIPWAY_DATA',
    'SLIPWAY_PORT',
    'SLIPWAY_ROUTER_PORT',
    'SLIPWAY_HOST',
    'SLIPWAY_DOMAIN',
    'SLIPWAY_STACK_IMAGE',
    'SLIPWAY_ROUTER_WORKERS',
    'SLIPWAY_MAX_PUSH_MB',
    'SLIPWAY_MIN_FREE_MB',
    'SLIPWAY_TLS_IN_FRONT',
    'SLIPWAY_BOOT_TIMEOUT',
    'SLIPWAY_HOOK_TIMEOUT',
    'SLIPWAY_STOP_TIMEOUT',
    'SLIPWAY_DRAIN_TIMEOUT',
    'SLIPWAY_RUN_TIMEOUT',
    'SLIPWAY_CONFIG',
  ];

  test.each(variables)('names %s, which the parser reads', (variable) => {
    expect(help).toContain(variable);
  });

  test('every variable it names is one the parser reads (a bad value of each is refused)', () => {
    for (const variable of [...help.matchAll(/SLIPWAY_[A-Z_]+/g)].map((m) => m[0]).filter((v) => v !== 'SLIPWAY_CONFIG')) {
      expect(configError(() => loadServerConfig([], { [variable]: '' })).origin).toBe(variable);
    }
  });

  test('every flag it shows is accepted, and every file key it shows is known', () => {
    for (const [, name] of help.matchAll(/^ {2}--([a-z-]+) /gm)) {
      if (name === 'config') continue;
      expect(configError(() => loadServerConfig([`--${name!}`, ''], {})).origin).toBe(`the --${name!} flag`);
    }
    for (const [, key] of help.matchAll(/file ([a-zA-Z.]+),/g)) {
      const [top, inner] = key!.split('.');
      const text = inner === undefined ? `${top!}: 1\n` : `${top!}: { ${inner}: 1 }\n`;
      expect(() => loadServerConfig(['--config', yamlFile(text)], {})).not.toThrow(/unknown setting/);
    }
  });

  test('defaults are shown as the operator writes them (seconds, not milliseconds)', () => {
    expect(help).toMatch(/SLIPWAY_HOOK_TIMEOUT +timeouts\.hook .*\(default 1200\)/);
    expect(help).toMatch(/--port <n> .*default 7070\)/);
  });
});

describe('loadServerConfig: acme', () => {
  test('acme: { directory, email, renewBefore } in YAML', () => {
    const file = yamlFile('acme:\n  directory: https://127.0.0.1:14000/dir\n  email: ops@example.com\n  renewBefore: 86400\n');
    const config = loadServerConfig(['--config', file], {});
    expect(config.acmeDirectory).toBe('https://127.0.0.1:14000/dir');
    expect(config.acmeEmail).toBe('ops@example.com');
    expect(config.acmeRenewBeforeMs).toBe(86_400_000);
  });

  test('SLIPWAY_ACME_DIRECTORY wins over the file', () => {
    const file = yamlFile('acme: { directory: "https://a.example/dir" }\n');
    expect(loadServerConfig(['--config', file], { SLIPWAY_ACME_DIRECTORY: 'https://b.example/dir' }).acmeDirectory).toBe('https://b.example/dir');
  });

  test('a directory that is not an http(s) URL is refused with an example', () => {
    const error = configError(() => loadServerConfig([], { SLIPWAY_ACME_DIRECTORY: 'letsencrypt' }));
    expect(error.message).toBe('"acme.directory" must be an http(s) URL such as https://acme-v02.api.letsencrypt.org/directory, not "letsencrypt"');
    expect(error.origin).toBe('SLIPWAY_ACME_DIRECTORY');
  });

  test('an email without @ is refused', () => {
    const error = configError(() => loadServerConfig([], { SLIPWAY_ACME_EMAIL: 'ops' }));
    expect(error.message).toBe('"acme.email" must be an email address such as ops@example.com, not "ops"');
  });

  test('External Account Binding: acme.eabKid and acme.eabHmacKey from the file or SLIPWAY_ACME_EAB_KID / SLIPWAY_ACME_EAB_HMAC_KEY', () => {
    const file = yamlFile('acme: { eabKid: kid-1, eabHmacKey: c2VjcmV0LWhtYWMta2V5 }\n');
    expect(loadServerConfig(['--config', file], {})).toMatchObject({ acmeEabKid: 'kid-1', acmeEabHmacKey: 'c2VjcmV0LWhtYWMta2V5' });
    const env = { SLIPWAY_ACME_EAB_KID: 'kid-2', SLIPWAY_ACME_EAB_HMAC_KEY: 'a_b-c' };
    expect(loadServerConfig(['--config', file], env)).toMatchObject({ acmeEabKid: 'kid-2', acmeEabHmacKey: 'a_b-c' });
  });

  test('one half of External Account Binding without the other is refused, naming the missing setting', () => {
    expect(configError(() => loadServerConfig([], { SLIPWAY_ACME_EAB_KID: 'kid-1' })).message).toBe(
      'External Account Binding needs both its key ID and its HMAC key: set acme.eabHmacKey (SLIPWAY_ACME_EAB_HMAC_KEY) too, as your certificate authority gives them',
    );
    expect(configError(() => loadServerConfig([], { SLIPWAY_ACME_EAB_HMAC_KEY: 'abc' })).message).toBe(
      'External Account Binding needs both its key ID and its HMAC key: set acme.eabKid (SLIPWAY_ACME_EAB_KID) too, as your certificate authority gives them',
    );
  });

  test('an HMAC key that is not base64url is refused', () => {
    const error = configError(() => loadServerConfig([], { SLIPWAY_ACME_EAB_KID: 'k', SLIPWAY_ACME_EAB_HMAC_KEY: 'not a key!' }));
    expect(error.message).toBe('"acme.eabHmacKey" must be the base64url HMAC key your certificate authority gave with the key ID, not "not a key!"');
    expect(error.origin).toBe('SLIPWAY_ACME_EAB_HMAC_KEY');
  });

  test('an unknown acme key is named with the known ones', () => {
    const file = yamlFile('acme: { server: x }\n');
    const error = configError(() => loadServerConfig(['--config', file], {}));
    expect(error.message).toBe(`${file}: unknown setting "acme.server"; expected directory, email, renewBefore, checkInterval, retry, eabKid, eabHmacKey`);
  });
});
