import { redactEnv, redactError, REDACTED } from '../../src/runtime/redact.js';

describe('redactEnv', () => {
  test("runc's quoting of a value with a NUL byte loses the value", () => {
    const message =
      '(HTTP code 500) server error - failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: environment variable value can\'t contain null(\\x00): "K=a\\x00secretvalue": unknown';
    const out = redactEnv(message, { K: 'a\0secretvalue', PORT: '31000' });
    expect(out).not.toContain('secret');
    expect(out).toContain(`"K=${REDACTED}": unknown`);
  });

  test('values are removed wherever they appear, raw, JSON- or Go-quoted; short values and other text stay', () => {
    const env = { TOKEN: 'sk-live-123"x', DEBUG: '1' };
    expect(redactEnv('raw sk-live-123"x, json sk-live-123\\"x, and DEBUG=1 at port 1', env)).toBe(
      `raw ${REDACTED}, json ${REDACTED}, and DEBUG=${REDACTED} at port 1`,
    );
    expect(redactEnv('nothing to hide here', env)).toBe('nothing to hide here');
  });

  test("the values Slipway sets itself (the app's and the container's names, port, commit) stay readable; the app's own are removed", () => {
    const message =
      'Conflict. The container name "/slipway-hello-1-web-1" is already in use by container "61dc". You have to remove (or rename) that container; PORT=31000 SECRET_KEY=hello-world-key';
    const env = { APP: 'hello', CONTAINER: 'web-1', DYNO: 'web.1', PORT: '31000', CONTAINER_VERSION: 'abc123def', SECRET_KEY: 'hello-world-key' };
    expect(redactEnv(message, env)).toBe(message.replace('SECRET_KEY=hello-world-key', `SECRET_KEY=${REDACTED}`));
  });

  test('a name is matched whole: NOT_TOKEN= is not TOKEN=', () => {
    expect(redactEnv('MY_K=abc K=abc', { K: 'abc' })).toBe(`MY_K=abc K=${REDACTED}`);
  });
});

describe('redactError', () => {
  test("rewrites the message, the stack and dockerode's json, keeping the error's type and fields", () => {
    const error = Object.assign(new Error('start failed: "DB=postgres://u:pw@db/x"'), { statusCode: 500, json: { message: 'DB=postgres://u:pw@db/x' } });
    const out = redactError(error, { DB: 'postgres://u:pw@db/x' }) as typeof error;
    expect(out).toBe(error);
    expect(out.message).toBe(`start failed: "DB=${REDACTED}"`);
    expect(out.stack).not.toContain('pw@db');
    expect(out.statusCode).toBe(500);
    expect(JSON.stringify(out.json ?? null)).not.toContain('pw@db');
  });
});
