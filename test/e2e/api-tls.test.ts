/**
 * Issue 14, `apiTls: true`: the git/API port serves HTTPS with the default certificate, and the CLI
 * (NODE_EXTRA_CA_CERTS) and git (GIT_SSL_CAINFO) trust it the usual way for a private CA; plain
 * HTTP is not answered there. Real server, real git, real CLI.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { TestApp } from '../support/app.js';
import { removeApp } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { CLI, freePort } from '../support/server.js';
import { TestCa } from '../support/test-ca.js';

const NAME = 'api-tls-app';
const TOKEN = `test-token-${Math.random().toString(36).slice(2)}`;

let ca: TestCa;
let dataDir: string;
let home: string;
let port: number;
let child: ChildProcess;
let output = '';
let app: TestApp;

function health(): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get({ host: 'localhost', port, path: '/api/health', ca: ca.cert, agent: false }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
  });
}

beforeAll(async () => {
  ca = new TestCa();
  const own = ca.issue(['localhost']);
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-test-'));
  home = mkdtempSync(path.join(os.tmpdir(), 'slipway-home-'));
  port = await freePort();
  const routerPort = await freePort();
  child = spawn(CLI, ['server', '--data', dataDir, '--port', String(port), '--router-port', String(routerPort)], {
    env: {
      ...process.env,
      SLIPWAY_ADMIN_TOKEN: TOKEN,
      SLIPWAY_API_TLS: '1',
      SLIPWAY_TLS_CERT: ca.file('own.pem', own.cert),
      SLIPWAY_TLS_KEY: ca.file('own.key', own.key),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  for (let i = 0; ; i++) {
    if (await health().catch(() => 0)) break;
    if (i > 400 || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  app = new TestApp(busyboxApp({ web: WEB }));
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  try {
    process.kill(Number(readFileSync(path.join(dataDir, 'router.pid'), 'utf8')), 'SIGTERM');
  } catch {
    // no router left
  }
  await removeApp(NAME);
  app?.remove();
  ca?.remove();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}, 60_000);

test('git pushes and the CLI works over TLS, trusting the private CA the usual way; plain HTTP gets no answer', async () => {
  expect(output).toContain(`git and API on https://127.0.0.1:${port}`);
  await app.commit('one');
  const pushed = await execa('git', ['push', `https://git:${TOKEN}@localhost:${port}/${NAME}.git`, 'main'], {
    cwd: app.dir,
    env: { GIT_SSL_CAINFO: path.join(ca.dir, 'ca.pem'), GIT_TERMINAL_PROMPT: '0' },
    reject: false,
  });
  expect(pushed.stderr).toContain('-----> ');
  expect(pushed.exitCode).toBe(0);

  const cli = (env: Record<string, string>) =>
    execa(process.execPath, [CLI, 'apps', '--json'], {
      env: { HOME: home, PATH: process.env.PATH ?? '', SLIPWAY_URL: `https://localhost:${port}`, SLIPWAY_TOKEN: TOKEN, ...env },
      extendEnv: false,
      reject: false,
    });
  const trusted = await cli({ NODE_EXTRA_CA_CERTS: path.join(ca.dir, 'ca.pem') });
  expect(trusted.exitCode).toBe(0);
  expect((JSON.parse(trusted.stdout) as { name: string }[]).map((a) => a.name)).toContain(NAME);
  // Without the CA the CLI refuses the certificate (it does not fall back to anything).
  expect((await cli({})).exitCode).not.toBe(0);
  // Plain HTTP on the TLS port is not served.
  await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
}, 180_000);
