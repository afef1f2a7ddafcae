import {
  containerEnv,
  envNameProblem,
  envTotalProblem,
  envValueProblem,
  MAX_ENV_TOTAL_BYTES,
  MAX_ENV_VALUE_BYTES,
  RESERVED_ENV,
  type InjectedEnv,
} from '../../src/deploy/env.js';

const injected: InjectedEnv = {
  app: 'shop',
  container: 'web-1',
  port: 5000,
  commit: '0123456789abcdef0123456789abcdef01234567',
  stack: 'slipway/stack:bookworm',
};

describe('containerEnv', () => {
  test('sets every injected variable', () => {
    expect(containerEnv({}, injected)).toEqual({
      PORT: '5000',
      APP: 'shop',
      CONTAINER: 'web-1',
      DYNO: 'web.1',
      CONTAINER_VERSION: '0123456789abcdef0123456789abcdef01234567',
      SOURCE_VERSION: '0123456789abcdef0123456789abcdef01234567',
      STACK: 'slipway/stack:bookworm',
    });
  });

  test('keeps app variables', () => {
    const env = containerEnv({ DATABASE_URL: 'postgres://db/shop', NODE_ENV: 'production' }, injected);
    expect(env.DATABASE_URL).toBe('postgres://db/shop');
    expect(env.NODE_ENV).toBe('production');
    expect(Object.keys(env)).toHaveLength(9);
  });

  test('injected variables override app variables of the same name', () => {
    const env = containerEnv(
      { PORT: '1', APP: 'other', CONTAINER: 'x', DYNO: 'x.9', CONTAINER_VERSION: 'old', SOURCE_VERSION: 'old', STACK: 'mine', KEEP: 'yes' },
      injected,
    );
    expect(env.PORT).toBe('5000');
    expect(env.APP).toBe('shop');
    expect(env.CONTAINER).toBe('web-1');
    expect(env.DYNO).toBe('web.1');
    expect(env.CONTAINER_VERSION).toBe(injected.commit);
    expect(env.SOURCE_VERSION).toBe(injected.commit);
    expect(env.STACK).toBe('slipway/stack:bookworm');
    expect(env.KEEP).toBe('yes');
  });

  test('CONTAINER_VERSION and SOURCE_VERSION both equal the commit', () => {
    const env = containerEnv({}, { ...injected, commit: 'deadbeef' });
    expect(env.CONTAINER_VERSION).toBe('deadbeef');
    expect(env.SOURCE_VERSION).toBe('deadbeef');
  });

  test.each([
    ['web-1', 'web.1'],
    ['worker-12', 'worker.12'],
    ['postdeploy-1', 'postdeploy.1'],
    ['my-worker-3', 'my-worker.3'],
    ['web', 'web'],
  ])('DYNO for container %s is %s', (container, dyno) => {
    const env = containerEnv({}, { ...injected, container });
    expect(env.DYNO).toBe(dyno);
    expect(env.CONTAINER).toBe(container);
  });

  test('does not modify the app variables it is given', () => {
    const appEnv = { PORT: '1', A: 'b' };
    containerEnv(appEnv, injected);
    expect(appEnv).toEqual({ PORT: '1', A: 'b' });
  });
});

describe('envNameProblem', () => {
  test.each(['DATABASE_URL', 'A', '_', '_PRIVATE', 'a1', 'node_env', 'X_2_Y', 'SLIPWAY', 'MY_SLIPWAY_X', 'PORTS', 'A'.repeat(255)])(
    '"%s" is a valid name',
    (name) => {
      expect(envNameProblem(name)).toBeUndefined();
    },
  );

  test.each(['1ABC', 'A-B', '', 'A B', 'A.B', 'É', 'A=B', 'A'.repeat(256)])('"%s" is not a valid name', (name) => {
    expect(envNameProblem(name)).toBe(`"${name.slice(0, 80)}" is not a valid variable name; use letters, digits and underscores, not starting with a digit`);
  });

  test.each([...RESERVED_ENV, 'SLIPWAY_', 'SLIPWAY_TOKEN', 'SLIPWAY_DATA'])('"%s" is reserved', (name) => {
    expect(envNameProblem(name)).toBe(`${name} is set by Slipway in every container and cannot be changed; choose another name`);
  });

  test('the reserved list covers the documented names', () => {
    expect([...RESERVED_ENV]).toEqual(expect.arrayContaining(['PORT', 'CONTAINER', 'APP', 'STACK', 'DYNO', 'CONTAINER_VERSION', 'SOURCE_VERSION']));
  });

  test('every name containerEnv injects is reserved', () => {
    for (const name of Object.keys(containerEnv({}, injected))) {
      expect(envNameProblem(name)).toMatch(/is set by Slipway/);
    }
  });
});

describe('envValueProblem and envTotalProblem', () => {
  test('a NUL byte is refused with one sentence', () => {
    expect(envValueProblem('SECRET', 'a\0b')).toBe(
      'the value of SECRET contains a NUL byte, which no process environment can hold; remove it (encode binary data, e.g. in base64)',
    );
  });

  test('a value is limited to 32 KiB, counted in UTF-8 bytes', () => {
    expect(envValueProblem('K', 'x'.repeat(MAX_ENV_VALUE_BYTES))).toBeUndefined();
    expect(envValueProblem('K', `${'x'.repeat(MAX_ENV_VALUE_BYTES - 1)}é`)).toBe(
      'the value of K is 32769 bytes, over the 32768 a variable may hold; keep larger data in a file (e.g. on storage) and put its path in K',
    );
    expect(envValueProblem('K', 'multi\nline\tvalues are fine')).toBeUndefined();
  });

  test('all variables together are limited to 128 KiB (name, "=", value and the terminating NUL each)', () => {
    const value = 'x'.repeat(MAX_ENV_TOTAL_BYTES / 4 - 3);
    const fits = { A: value, B: value, C: value, D: value };
    expect(envTotalProblem(fits)).toBeUndefined();
    expect(envTotalProblem({ ...fits, E: '' })).toBe(
      "the variables would take 131075 bytes together, over the 131072 an app's environment may take; remove some, or keep large values in files (e.g. on storage)",
    );
  });
});
