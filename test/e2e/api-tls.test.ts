/**
 * Issue 14, `apiTls: true`: the git/API port serves HTTPS with the default certificate, and the CLI
 * (NODE_EXTRA_CA_CERTS) and git (GIT_SSL_CAINFO) trust it the usual way for a private CA; plain
 * HTTP is not answered there. Real server, real git, real CLI.
 */
import { execa } from 'execa';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { CLI, cliEnv, ServerSuite, type TestServer } from '../support/server.js';
import { TestCa } from '../support/test-ca.js';

const NAME = 'api-tls-app';

const suite = new ServerSuite([NAME]);
let ca: TestCa;
let server: TestServer;
let home: string;
let app: TestApp;

beforeAll(async () => {
  ca = new TestCa();
  const own = ca.issue(['localhost']);
  ({ server, home } = await suite.start({ apiTls: { certFile: ca.file('own.pem', own.cert), keyFile: ca.file('own.key', own.key), ca: ca.cert } }));
  app = suite.app(busyboxApp({ web: WEB }));
}, 60_000);

afterAll(async () => {
  await suite.stop();
  ca?.remove();
}, 60_000);

test('git pushes and the CLI works over TLS, trusting the private CA the usual way; plain HTTP gets no answer', async () => {
  expect(server.output()).toContain(`git and API on https://127.0.0.1:${server.port}`);
  await app.commit('one');
  expect(server.remote(NAME)).toBe(`https://git:${server.token}@localhost:${server.port}/${NAME}.git`);
  const pushed = await execa('git', ['push', server.remote(NAME), 'main'], {
    cwd: app.dir,
    env: { GIT_SSL_CAINFO: path.join(ca.dir, 'ca.pem'), GIT_TERMINAL_PROMPT: '0' },
    reject: false,
  });
  expect(pushed.stderr).toContain('-----> ');
  expect(pushed.exitCode).toBe(0);

  const cli = (env: Record<string, string>) =>
    execa(process.execPath, [CLI, 'apps', '--json'], {
      env: { ...cliEnv(server, home), ...env },
      extendEnv: false,
      reject: false,
    });
  const trusted = await cli({ NODE_EXTRA_CA_CERTS: path.join(ca.dir, 'ca.pem') });
  expect(trusted.exitCode).toBe(0);
  expect((JSON.parse(trusted.stdout) as { name: string }[]).map((a) => a.name)).toContain(NAME);
  // Without the CA the CLI refuses the certificate (it does not fall back to anything).
  expect((await cli({})).exitCode).not.toBe(0);
  // Plain HTTP on the TLS port is not served.
  await expect(fetch(`http://127.0.0.1:${server.port}/api/health`)).rejects.toThrow();
  // The test side's API client trusts the private CA too.
  expect((await server.api<{ name: string }[]>('GET', '/api/apps')).body.map((a) => a.name)).toContain(NAME);
}, 180_000);
