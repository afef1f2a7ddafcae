/**
 * Checking uploaded certificates and the certificate store (issue 14). Certificates from a CA
 * made for the run (openssl); the store writes real files.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCertificate, nameCovers } from '../../../src/certs/pem.js';
import { CertificateStore } from '../../../src/certs/store.js';
import { TestCa } from '../../support/test-ca.js';

let ca: TestCa;
beforeAll(() => {
  ca = new TestCa();
});
afterAll(() => ca.remove());

describe('checkCertificate', () => {
  const domains = ['www.shop.example', 'shop.apps.test'];

  test('a good certificate: its names, issuer, dates, and the app domains it covers', () => {
    const { cert, key } = ca.issue(['www.shop.example', 'other.example']);
    const { facts, covers } = checkCertificate(cert + ca.cert, key, domains, new Date());
    expect(facts.hostnames).toEqual(['www.shop.example', 'other.example']);
    expect(facts.issuer).toBe('Slipway Test CA');
    expect(facts.notAfter.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect(covers).toEqual(['www.shop.example']);
  }, 20_000);

  test('a wildcard covers one label, as browsers match it', () => {
    const { cert, key } = ca.issue(['*.shop.example']);
    expect(checkCertificate(cert, key, ['www.shop.example', 'a.b.shop.example', 'shop.example'], new Date()).covers).toEqual(['www.shop.example']);
    expect(() => checkCertificate(cert, key, ['shop.example', 'a.b.shop.example'], new Date())).toThrow(
      "the certificate covers *.shop.example, none of the app's domains (shop.example, a.b.shop.example); add the domain first (slipway domains:add) or upload its certificate",
    );
  }, 20_000);

  test('a key that is not the certificate’s, an expired or a not yet valid certificate are refused in one sentence', () => {
    const good = ca.issue(['www.shop.example']);
    const other = ca.issue(['www.shop.example']);
    expect(() => checkCertificate(good.cert, other.key, domains, new Date())).toThrow(
      'the key does not match the certificate; pass the private key this certificate was issued for',
    );
    const expired = ca.issue(['www.shop.example'], { startDays: -10, endDays: -1 });
    expect(() => checkCertificate(expired.cert, expired.key, domains, new Date())).toThrow(
      /^the certificate expired on \d{4}-\d\d-\d\dT[\d:.]+Z; renew it, then upload the new one$/,
    );
    const future = ca.issue(['www.shop.example'], { startDays: 5, endDays: 30 });
    expect(() => checkCertificate(future.cert, future.key, domains, new Date())).toThrow(/^the certificate is not valid before .*; upload it once it is/);
    expect(() => checkCertificate('hello', good.key, domains, new Date())).toThrow(/holds no PEM certificate/);
    expect(() => checkCertificate(good.cert, good.cert, domains, new Date())).toThrow(/holds no PEM private key/);
  }, 20_000);

  test('nameCovers: exact names, and wildcards for exactly one label', () => {
    expect(nameCovers('a.example', 'a.example')).toBe(true);
    expect(nameCovers('*.example', 'a.example')).toBe(true);
    expect(nameCovers('*.example', 'example')).toBe(false);
    expect(nameCovers('*.example', 'a.b.example')).toBe(false);
    expect(nameCovers('*.example', '.example')).toBe(false);
  });
});

describe('CertificateStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-certs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('keeps certificates across instances in 0600 files, per app and source; a renewal replaces the old one', () => {
    const store = new CertificateStore(dir);
    let changes = 0;
    store.onChange(() => changes++);
    const first = ca.issue(['www.shop.example']);
    store.put('shop', 'uploaded', first.cert, first.key);
    const blog = ca.issue(['blog.example']);
    store.put('blog', 'auto', blog.cert, blog.key);
    const files = readdirSync(path.join(dir, 'certs'));
    expect(files).toHaveLength(2);
    for (const file of files) expect(statSync(path.join(dir, 'certs', file)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'certs')).mode & 0o777).toBe(0o700);

    const renewed = ca.issue(['www.shop.example']);
    store.put('shop', 'auto', renewed.cert, renewed.key);
    const again = new CertificateStore(dir);
    expect(again.forApp('shop').map((c) => ({ source: c.source, cert: c.cert, hostnames: c.hostnames }))).toEqual([
      { source: 'auto', cert: renewed.cert, hostnames: ['www.shop.example'] },
    ]);
    expect(
      again
        .list()
        .map((c) => c.app)
        .sort(),
    ).toEqual(['blog', 'shop']);
    expect(changes).toBe(3);
  }, 20_000);

  test('remove drops the app’s certificates that cover the domain (a wildcard too), and only those', () => {
    const store = new CertificateStore(dir);
    const wildcard = ca.issue(['*.shop.example']);
    const apex = ca.issue(['shop.example']);
    store.put('shop', 'uploaded', wildcard.cert, wildcard.key);
    store.put('shop', 'uploaded', apex.cert, apex.key);
    expect(store.remove('other', 'www.shop.example')).toBe(0);
    expect(store.remove('shop', 'WWW.shop.example')).toBe(1);
    expect(store.forApp('shop').map((c) => c.hostnames)).toEqual([['shop.example']]);
    store.removeApp('shop');
    expect(store.list()).toEqual([]);
  }, 20_000);
});
