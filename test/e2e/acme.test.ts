/**
 * Automatic certificates against a real ACME server: Debian's pebble, validating HTTP-01 on the
 * router's HTTP port, with pebble-challtestsrv resolving every name to 127.0.0.1. Slipway trusts
 * pebble's directory through NODE_EXTRA_CA_CERTS, as any Node program would; only this test's
 * TLS client trusts the root that signs the certificates pebble issues.
 */
import { randomBytes } from 'node:crypto';
import { statSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TestApp } from '../support/app.js';
import { removeApp } from '../support/docker.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { preparePebble, type Pebble } from '../support/pebble.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const APP = 'acme-app';
const DOMAIN = 'www.acme-shop.example';
const BLOCKED = 'blocked.acme-shop.example';

interface AutoDomain {
  domain: string;
  state: string;
  lastError: string | null;
  nextAttemptAt: string | null;
}

const suite = new ServerSuite([APP]);
let pebble: Pebble;
let server: TestServer;
let app: TestApp;
let home: string;
let httpsPort: number;
let slipway: CliRunner;

beforeAll(async () => {
  await removeApp(APP);
  pebble = await preparePebble({ blocklist: [BLOCKED] });
  ({ server, home, slipway } = await suite.start({
    https: true,
    env: {
      NODE_EXTRA_CA_CERTS: pebble.directoryCaFile,
      SLIPWAY_ACME_DIRECTORY: pebble.directory,
      SLIPWAY_ACME_EMAIL: 'ops@acme-shop.example',
      // A refused order is tried again only after the test is over.
      SLIPWAY_ACME_RETRY: '3600',
    },
  }));
  httpsPort = server.httpsPort!;
  await pebble.start(server.routerPort);
  app = suite.app(busyboxApp({ web: WEB }));
  await app.commit('first');
  const pushed = await app.push(server.remote(APP));
  if (pushed.exitCode !== 0) throw new Error(`the push failed:\n${pushed.output}`);
  expect((await slipway(['domains:add', DOMAIN, '-a', APP])).exitCode).toBe(0);
}, 120_000);

afterAll(async () => {
  await suite.stop();
  await pebble?.stop();
}, 60_000);

async function autoState(): Promise<{ enabled: boolean; domains: AutoDomain[] }> {
  const { status, body } = await server.api<{ enabled: boolean; domains: AutoDomain[] }>('GET', `/api/apps/${APP}/certs/auto`);
  expect(status).toBe(200);
  return body;
}

/** Polls until `check` returns a value (bounded); the last state is in the error. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (last: ${String(last)}; state: ${JSON.stringify(await autoState())})\n${server.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One HTTPS request with SNI for `host`, trusting only pebble's root; the body and the served certificate's fingerprint. */
async function getTls(host: string, root: string): Promise<{ status: number; body: string; fingerprint: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port: httpsPort, servername: host, headers: { host }, ca: root, agent: false, timeout: 10_000, path: '/' },
      (res) => {
        const cert = res.socket && 'getPeerCertificate' in res.socket ? (res.socket as import('node:tls').TLSSocket).getPeerCertificate() : undefined;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint: cert?.fingerprint256 ?? '', issuer: String(cert?.issuer?.CN ?? '') }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no HTTPS answer within 10 s')));
    req.on('error', reject);
  });
}

function fileMode(file: string): number {
  return statSync(file).mode & 0o777;
}

test('certs:auto orders a certificate from the ACME server, answered on the router port, and it is served over TLS by SNI', async () => {
  // No certificate for the name yet: no TLS client that trusts only pebble's root gets through.
  const root = await pebble.root();
  expect(
    await getTls(DOMAIN, root).then(
      () => 'served',
      () => 'refused',
    ),
  ).toBe('refused');

  const enabled = await slipway(['certs:auto', '-a', APP]);
  expect(enabled.exitCode).toBe(0);
  expect(enabled.stdout).toContain(`Automatic certificates are on for ${APP}; ordering for ${DOMAIN}.`);

  await until('the certificate', async () => ((await autoState()).domains.find((d) => d.domain === DOMAIN)?.state === 'issued' ? true : undefined));
  const served = await until('the certificate served', async () => getTls(DOMAIN, await pebble.root()));
  expect(served.status).toBe(200);
  expect(served.body).toBe('hello\n');
  expect(served.issuer).toMatch(/Pebble Intermediate/);

  // Keys are the server user's alone: the account key and the stored certificate (with its key).
  expect(fileMode(path.join(server.dataDir, 'acme', 'account.key'))).toBe(0o600);
  const stored = readdirSync(path.join(server.dataDir, 'certs')).filter((f) => f.endsWith('.json'));
  expect(stored).toHaveLength(1);
  expect(fileMode(path.join(server.dataDir, 'certs', stored[0]!))).toBe(0o600);
}, 120_000);

test("an order the ACME server refuses shows the server's reason, and the app is still served on HTTP", async () => {
  expect((await slipway(['domains:add', BLOCKED, '-a', APP])).exitCode).toBe(0);
  const failed = await until('the refused order', async () => {
    const d = (await autoState()).domains.find((x) => x.domain === BLOCKED);
    return d?.state === 'failed' ? d : undefined;
  });
  expect(failed.lastError).toMatch(/forbidden by policy.*blocked\.acme-shop\.example/);
  // `slipway certs` shows the ACME server's reason beside the domain.
  const certs = await slipway(['certs', '--json', '-a', APP]);
  expect(certs.exitCode).toBe(0);
  const listed = JSON.parse(certs.stdout) as { domain: string; source: string; acmeError: string | null }[];
  expect(listed.find((c) => c.domain === BLOCKED)).toMatchObject({ source: 'none', acmeError: failed.lastError });
  expect(listed.find((c) => c.domain === DOMAIN)).toMatchObject({ source: 'auto', acmeError: null });
  expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThan(Date.now() + 60 * 60_000 - 5 * 60_000);

  const http = await getApp(server.routerPort, APP, '/', BLOCKED);
  expect(http.status).toBe(200);
  expect(http.body).toBe('hello\n');
  // The other name keeps its certificate.
  expect((await getTls(DOMAIN, await pebble.root())).status).toBe(200);

  // A restart remembers the failure: still shown, the next attempt still an hour away, nothing ordered at start.
  const ordersOfBlocked = (): number => (server.output().match(/ordering the certificate of blocked\.acme-shop\.example/g) ?? []).length;
  const ordered = ordersOfBlocked();
  await server.stopServer();
  await server.restart();
  expect((await autoState()).domains.find((d) => d.domain === BLOCKED)).toMatchObject({
    state: 'failed',
    lastError: failed.lastError,
    nextAttemptAt: failed.nextAttemptAt,
  });
  const afterRestart = JSON.parse((await slipway(['certs', '--json', '-a', APP])).stdout) as { domain: string; acmeError: string | null }[];
  expect(afterRestart.find((c) => c.domain === BLOCKED)?.acmeError).toBe(failed.lastError);
  expect(ordersOfBlocked()).toBe(ordered);

  // Removing the domain stops its retries and its entry.
  expect((await slipway(['domains:remove', BLOCKED, '-a', APP])).exitCode).toBe(0);
  expect((await autoState()).domains.map((d) => d.domain)).toEqual([DOMAIN]);
}, 120_000);

test('a restart keeps the certificate and orders nothing new', async () => {
  const root = await pebble.root();
  const before = await getTls(DOMAIN, root);
  const ordersBefore = (server.output().match(/ordering the certificate|renewing the certificate/g) ?? []).length;
  await server.stopServer();
  await server.restart();
  // The router process outlived the server; the server sends the same set when it connects.
  const after = await until('HTTPS after the restart', async () => {
    const state = await autoState();
    return state.domains[0]?.state === 'issued' ? getTls(DOMAIN, root) : undefined;
  });
  expect(after.fingerprint).toBe(before.fingerprint);
  expect((server.output().match(/ordering the certificate|renewing the certificate/g) ?? []).length).toBe(ordersBefore);
}, 120_000);

test('a certificate inside the renewal window is renewed at start, and the new one is served from the next handshake', async () => {
  const root = await pebble.root();
  const before = await getTls(DOMAIN, root);
  // Redirecting HTTP to HTTPS must leave the challenge path answered on HTTP, or renewal fails.
  expect((await server.api('PATCH', `/api/apps/${APP}/settings`, { forceHttps: true })).status).toBe(200);
  const redirected = await getApp(server.routerPort, APP, '/', DOMAIN);
  expect(redirected.status).toBe(308);
  // Pebble's certificates are valid for years: a window longer than that makes this one due.
  await server.stopServer();
  await server.restart({ SLIPWAY_ACME_RENEW_BEFORE: String(10 * 365 * 24 * 3600) });
  const renewed = await until('the renewed certificate', async () => {
    const now = await getTls(DOMAIN, root);
    return now.fingerprint !== before.fingerprint ? now : undefined;
  });
  expect(renewed.body).toBe('hello\n');
  expect(server.output()).toContain(`${APP}: renewing the certificate of ${DOMAIN}`);
  // The renewed certificate replaced the old one in the store.
  expect(readdirSync(path.join(server.dataDir, 'certs')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
}, 120_000);

test('certs:auto --disable stops renewals and removes the automatic certificate', async () => {
  const disabled = await slipway(['certs:auto', '--disable', '-a', APP]);
  expect(disabled.exitCode).toBe(0);
  expect(disabled.stdout).toContain(`Automatic certificates are off for ${APP}`);
  expect((await autoState()).enabled).toBe(false);
  await until('the certificate removed', async () => (readdirSync(path.join(server.dataDir, 'certs')).some((f) => f.endsWith('.json')) ? undefined : true));
  // Plain HTTP serves on.
  expect((await server.api('PATCH', `/api/apps/${APP}/settings`, { forceHttps: false })).status).toBe(200);
  expect((await getApp(server.routerPort, APP, '/', DOMAIN)).body).toBe('hello\n');
}, 90_000);

test('a certificate authority that requires External Account Binding refuses the account without it, in one sentence; with acme.eabKid and acme.eabHmacKey the certificate is issued', async () => {
  const kid = 'slipway-test-kid';
  const hmacKey = randomBytes(32).toString('base64url');
  const eabPebble = await preparePebble({ externalAccountMACKeys: { [kid]: hmacKey } });
  try {
    await eabPebble.start(server.routerPort);
    // Slipway trusts both pebbles' directories (one NODE_EXTRA_CA_CERTS file).
    const trust = path.join(home, 'pebble-directories.pem');
    writeFileSync(trust, readFileSync(pebble.directoryCaFile, 'utf8') + readFileSync(eabPebble.directoryCaFile, 'utf8'));
    await server.stopServer();
    // Failed orders are retried after 1 s, 4 s, 16 s…: the kept backoff is short enough to wait for.
    await server.restart({ NODE_EXTRA_CA_CERTS: trust, SLIPWAY_ACME_DIRECTORY: eabPebble.directory, SLIPWAY_ACME_RETRY: '1' });
    expect((await slipway(['certs:auto', '-a', APP])).exitCode).toBe(0);
    const refused = await until('the refused account', async () => {
      const d = (await autoState()).domains.find((x) => x.domain === DOMAIN);
      return d?.state === 'failed' ? d : undefined;
    });
    expect(refused.lastError).toBe(
      `The ACME server ${eabPebble.directory} requires External Account Binding (it said: ${/\(it said: (.*)\); set /.exec(refused.lastError ?? '')?.[1] ?? '?'}); ` +
        'set acme.eabKid and acme.eabHmacKey (SLIPWAY_ACME_EAB_KID, SLIPWAY_ACME_EAB_HMAC_KEY) to the key ID and HMAC key from your account at the certificate authority, then restart the server.',
    );

    await server.stopServer();
    await server.restart({ SLIPWAY_ACME_EAB_KID: kid, SLIPWAY_ACME_EAB_HMAC_KEY: hmacKey });
    const root = await eabPebble.root();
    const served = await until(
      'the certificate from the authority that requires EAB',
      async () => ((await autoState()).domains.find((d) => d.domain === DOMAIN)?.state === 'issued' ? getTls(DOMAIN, root) : undefined),
      90_000,
    );
    expect(served).toMatchObject({ status: 200, body: 'hello\n' });
    expect(eabPebble.output()).toContain(`Successful newAccount Binding with CA using kid "${kid}"`);
  } finally {
    await eabPebble.stop();
  }
}, 180_000);
