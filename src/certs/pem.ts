/**
 * Reading and checking a certificate and its key (node:crypto's X509Certificate): pure, so the
 * API, the ACME side and the router process agree on what a certificate covers.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** An uploaded certificate or key that cannot be served; the message says what to do. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** What the router and `slipway certs` need to know of a certificate. */
export interface CertificateFacts {
  /** DNS names it covers (subjectAltName, else the subject's CN), lower case; wildcards as `*.example.com`. */
  hostnames: string[];
  /** The issuer's CN (or whole issuer line when it has none). */
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint of the leaf, hex without colons. */
  fingerprint: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in a file's text, leaf first; throws when there is none or one is unreadable. */
export function parseChain(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0)
    throw new CertificateError(
      'the certificate file holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); pass the certificate (and its chain), then the key',
    );
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new CertificateError(`certificate ${i + 1} in the certificate file cannot be read; pass the PEM file your certificate authority issued`);
    }
  });
}

export function parseKey(pem: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new CertificateError('the key file holds no PEM private key ("-----BEGIN PRIVATE KEY-----"); pass the key the certificate was issued for');
  try {
    return createPrivateKey(pem);
  } catch {
    throw new CertificateError('the private key cannot be read (is it encrypted?); pass it unencrypted, in PEM');
  }
}

/** The facts of the chain's leaf. */
export function factsOf(chain: readonly X509Certificate[]): CertificateFacts {
  const leaf = chain[0]!;
  return {
    hostnames: hostnamesOf(leaf),
    issuer: /(?:^|\n)CN=([^\n]+)/.exec(leaf.issuer)?.[1] ?? leaf.issuer.replace(/\n/g, ', '),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

function hostnamesOf(cert: X509Certificate): string[] {
  const names = (cert.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length > 0) return [...new Set(names)];
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** Whether a certificate name covers a host as browsers match: `*.example.com` covers exactly one label. */
export function nameCovers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

/**
 * Checks an uploaded certificate and key for an app: the key matches, every certificate of the
 * chain is valid now, and it covers at least one of the app's domains. Returns its facts and
 * the domains it covers; throws a CertificateError saying which check failed.
 */
export function checkCertificate(certPem: string, keyPem: string, domains: readonly string[], now: Date): { facts: CertificateFacts; covers: string[] } {
  const chain = parseChain(certPem);
  const key = parseKey(keyPem);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw new CertificateError('the key does not match the certificate; pass the private key this certificate was issued for');
  for (const [i, cert] of chain.entries()) {
    const what = i === 0 ? 'the certificate' : `certificate ${i + 1} of the chain (${cert.subject.replace(/\n/g, ', ')})`;
    if (new Date(cert.validTo) < now)
      throw new CertificateError(`${what} expired on ${new Date(cert.validTo).toISOString()}; renew it, then upload the new one`);
    if (new Date(cert.validFrom) > now)
      throw new CertificateError(`${what} is not valid before ${new Date(cert.validFrom).toISOString()}; upload it once it is (or check this machine's clock)`);
  }
  const facts = factsOf(chain);
  // Node's own matching, as browsers do it: a wildcard covers one label, never a partial one.
  const covers = domains.filter((domain) => leaf.checkHost(domain, { partialWildcards: false, multiLabelWildcards: false }) !== undefined);
  if (covers.length === 0) {
    throw new CertificateError(
      `the certificate covers ${facts.hostnames.join(', ') || 'no host name'}, none of the app's domains (${domains.join(', ')}); add the domain first (slipway domains:add) or upload its certificate`,
    );
  }
  return { facts, covers };
}
