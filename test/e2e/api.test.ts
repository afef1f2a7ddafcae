import { ServerSuite, type TestServer } from '../support/server.js';

const suite = new ServerSuite();
let server: TestServer;

beforeAll(async () => {
  ({ server } = await suite.start());
  expect((await server.api('POST', '/api/apps', { name: 'api-app' })).status).toBe(201);
}, 60_000);

afterAll(() => suite.stop(), 60_000);

test('health answers without a token; everything else needs one', async () => {
  expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  const res = await fetch(`${server.url}/api/apps/api-app/deployments`);
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({ error: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') });
  const basic = await fetch(`${server.url}/api/apps/api-app/env`, {
    headers: { authorization: `Basic ${Buffer.from(`anyone:${server.token}`).toString('base64')}` },
  });
  expect(basic.status).toBe(200);
}, 60_000);

test('env: set, list, remove; changes apply all or nothing', async () => {
  expect(await server.api('PATCH', '/api/apps/api-app/env', { A: '1', B: 'two words' })).toEqual({
    status: 200,
    body: { A: '1', B: 'two words' },
  });
  expect(await server.api('PATCH', '/api/apps/api-app/env', { A: null })).toEqual({ status: 200, body: { B: 'two words' } });

  const reserved = await server.api<{ error: string; message: string }>('PATCH', '/api/apps/api-app/env', { C: 'x', PORT: '1' });
  expect(reserved.status).toBe(400);
  expect(reserved.body).toEqual({ error: 'invalid_env', message: 'PORT is set by Slipway in every container and cannot be changed; choose another name' });
  const invalid = await server.api<{ error: string }>('PATCH', '/api/apps/api-app/env', { '1BAD': 'x' });
  expect(invalid.status).toBe(400);
  const notString = await server.api<{ message: string }>('PATCH', '/api/apps/api-app/env', { N: 5 });
  expect(notString.body.message).toBe('the value of N must be a string, or null to remove it');
  expect(await server.api('GET', '/api/apps/api-app/env')).toEqual({ status: 200, body: { B: 'two words' } });
}, 60_000);

test('malformed and oversized bodies get clear errors', async () => {
  const malformed = await server.api<{ error: string }>('PATCH', '/api/apps/api-app/env', '{not json');
  expect(malformed).toEqual({ status: 400, body: { error: 'invalid_json', message: 'the request body is not valid JSON; send a JSON object' } });
  const array = await server.api<{ error: string }>('PATCH', '/api/apps/api-app/env', '[1]');
  expect(array.status).toBe(400);
  const huge = await server.api<{ error: string }>('PATCH', '/api/apps/api-app/env', JSON.stringify({ A: 'x'.repeat(2 * 1024 * 1024) }));
  expect(huge.status).toBe(413);
  expect(huge.body.error).toBe('body_too_large');
}, 60_000);

test('unknown apps, deployments and endpoints answer 404 with a code', async () => {
  expect(await server.api('GET', '/api/apps/nope/deployments')).toEqual({
    status: 404,
    body: { error: 'app_not_found', message: 'there is no app named "nope"; push to create it' },
  });
  expect((await server.api<{ error: string }>('GET', '/api/apps/api-app/deployments/99')).body.error).toBe('deployment_not_found');
  expect((await server.api<{ error: string }>('GET', '/api/nothing')).status).toBe(404);
  expect((await server.api<{ error: string }>('DELETE', '/api/apps/api-app/env')).status).toBe(405);
}, 60_000);

test('app names are validated on creation', async () => {
  const bad = await server.api<{ error: string; message: string }>('POST', '/api/apps', { name: '../etc' });
  expect(bad.status).toBe(400);
  expect(bad.body.message).toContain('is not a valid app name');
  expect((await server.api('POST', '/api/apps', { name: 'api-app' })).status).toBe(409);
}, 60_000);

test('settings validate their values', async () => {
  const bad = await server.api<{ message: string }>('PATCH', '/api/apps/api-app/settings', { bootTimeout: -1 });
  expect(bad.status).toBe(400);
  const unknown = await server.api<{ message: string }>('PATCH', '/api/apps/api-app/settings', { bootTimeut: 5 });
  expect(unknown.body.message).toContain('unknown setting "bootTimeut"');
  expect(await server.api('PATCH', '/api/apps/api-app/settings', { hookTimeout: 90 })).toEqual({
    status: 200,
    body: {
      bootTimeout: null,
      hookTimeout: 90,
      stopTimeout: null,
      memory: null,
      cpus: null,
      healthcheckTimeout: null,
      healthcheckInterval: null,
      healthcheckPath: null,
      forceHttps: false,
      hsts: false,
    },
  });
}, 60_000);

test('custom domains: add, list, refuse duplicates and bad names, remove', async () => {
  expect((await server.api('POST', '/api/apps', { name: 'other-app' })).status).toBe(201);
  const added = await server.api<{ domain: string }[]>('POST', '/api/apps/api-app/domains', { domain: 'WWW.Example.test.' });
  expect(added.status).toBe(201);
  expect(added.body.map((d) => d.domain)).toEqual(['www.example.test']);
  const taken = await server.api<{ error: string; message: string }>('POST', '/api/apps/other-app/domains', { domain: 'www.example.test' });
  expect(taken).toEqual({ status: 409, body: { error: 'domain_taken', message: 'www.example.test already routes to the app api-app; remove it there first' } });
  const bad = await server.api<{ error: string }>('POST', '/api/apps/api-app/domains', { domain: 'not a domain' });
  expect(bad.body.error).toBe('invalid_domain');
  const own = await server.api<{ message: string }>('POST', '/api/apps/api-app/domains', { domain: 'x.localhost' });
  expect(own.body.message).toContain("under the server's own domain");
  expect((await server.api('DELETE', '/api/apps/api-app/domains/www.example.test')).status).toBe(200);
  expect((await server.api('GET', '/api/apps/api-app/domains')).body).toEqual([]);
  expect((await server.api('DELETE', '/api/apps/api-app/domains/www.example.test')).status).toBe(404);
}, 60_000);
