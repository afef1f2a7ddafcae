import { MAX_RETRY_MS, renewalDue, retryDelay } from '../../../src/certs/acme-timing.js';
import { autoNames, isPublicDomain } from '../../../src/certs/acme-names.js';

const DAY = 24 * 60 * 60_000;

describe('renewalDue', () => {
  const notAfter = Date.UTC(2026, 11, 31);
  test('not due more than the window before expiry', () => {
    expect(renewalDue(notAfter, notAfter - 31 * DAY, 30 * DAY)).toBe(false);
  });
  test('due exactly at the window and after', () => {
    expect(renewalDue(notAfter, notAfter - 30 * DAY, 30 * DAY)).toBe(true);
    expect(renewalDue(notAfter, notAfter - DAY, 30 * DAY)).toBe(true);
  });
  test('an expired certificate is due', () => {
    expect(renewalDue(notAfter, notAfter + DAY, 30 * DAY)).toBe(true);
  });
});

describe('retryDelay', () => {
  test('the base after the first failure, four times longer after each next one', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 60_000))).toEqual([60_000, 240_000, 960_000, 3_840_000]);
  });
  test('bounded by six hours however many failures', () => {
    expect(retryDelay(6, 60_000)).toBe(MAX_RETRY_MS);
    expect(retryDelay(1000, 60_000)).toBe(MAX_RETRY_MS);
    expect(MAX_RETRY_MS).toBe(6 * 60 * 60_000);
  });
  test('a base longer than the bound is kept as it is', () => {
    expect(retryDelay(3, 2 * MAX_RETRY_MS)).toBe(2 * MAX_RETRY_MS);
  });
});

describe('which names get automatic certificates', () => {
  test.each(['localhost', 'slipway.test', 'apps.localhost', '127.0.0.1', 'box.local', 'lab.internal', 'example'])('%s is not public', (domain) => {
    expect(isPublicDomain(domain)).toBe(false);
  });
  test.each(['apps.example.org', 'paas.example.com', 'example.io'])('%s is public', (domain) => {
    expect(isPublicDomain(domain)).toBe(true);
  });
  test('custom domains always; <app>.<domain> only under a public server domain', () => {
    expect(autoNames('shop', ['www.shop.example'], 'localhost')).toEqual(['www.shop.example']);
    expect(autoNames('shop', ['www.shop.example'], 'apps.example.org')).toEqual(['www.shop.example', 'shop.apps.example.org']);
  });
});
