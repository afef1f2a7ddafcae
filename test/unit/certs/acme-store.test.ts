import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { autoCertificateStore } from '../../../src/certs/acme-store.js';
import { CertificateStore } from '../../../src/certs/store.js';
import { TestCa } from '../../support/test-ca.js';

let ca: TestCa;
let dir: string;

beforeAll(() => {
  ca = new TestCa();
});

afterAll(() => ca.remove());

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-acme-store-'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the certificate store as the ACME manager sees it', () => {
  test('an automatic certificate is found by its exact name, with its expiry; a renewal replaces it', async () => {
    const store = new CertificateStore(dir);
    const auto = autoCertificateStore(store);
    expect(auto.find('www.shop.example')).toBeUndefined();
    const first = ca.issue(['www.shop.example'], { endDays: 10 });
    await auto.saveAuto('shop', 'www.shop.example', { chain: first.cert, key: first.key });
    const found = auto.find('www.shop.example');
    expect(found?.source).toBe('auto');
    expect(Math.abs(found!.notAfter - (Date.now() + 10 * 86_400_000))).toBeLessThan(86_400_000);
    const second = ca.issue(['www.shop.example'], { endDays: 90 });
    await auto.saveAuto('shop', 'www.shop.example', { chain: second.cert, key: second.key });
    expect(store.list()).toHaveLength(1);
    expect(auto.find('www.shop.example')!.notAfter).toBeGreaterThan(found!.notAfter);
    // A wildcard is not the name's automatic certificate.
    expect(auto.find('api.shop.example')).toBeUndefined();
  });

  test('an upload covering the name (a wildcard too) is reported as uploaded, and removing the automatic one leaves it', async () => {
    const store = new CertificateStore(dir);
    const auto = autoCertificateStore(store);
    const wildcard = ca.issue(['*.shop.example']);
    store.put('shop', 'uploaded', wildcard.cert, wildcard.key);
    expect(auto.find('www.shop.example')?.source).toBe('uploaded');
    const issued = ca.issue(['api.other.example']);
    await auto.saveAuto('shop', 'api.other.example', { chain: issued.cert, key: issued.key });
    await auto.removeAuto('www.shop.example');
    expect(store.list().map((c) => c.source)).toEqual(expect.arrayContaining(['uploaded', 'auto']));
    await auto.removeAuto('api.other.example');
    expect(store.list().map((c) => c.source)).toEqual(['uploaded']);
  });
});
