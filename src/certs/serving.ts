/** The whole set of certificates the router serves: the stored ones, then the server-wide default. */
import { readFileSync } from 'node:fs';
import type { CertificateMessage } from '../router/messages.js';
import { CertificateError, factsOf, parseChain, parseKey } from './pem.js';
import type { StoredCertificate } from './store.js';

export interface PemPair {
  cert: string;
  key: string;
}

/**
 * In the order the router applies them, a later one winning a host name: auto before uploaded
 * (a user's upload is the deliberate choice), and the one valid longest last.
 */
export function certificatesToServe(stored: readonly StoredCertificate[], fallback: PemPair | undefined): CertificateMessage[] {
  const rank = (c: StoredCertificate): number => (c.source === 'uploaded' ? 1 : 0);
  const ordered = [...stored].sort((a, b) => rank(a) - rank(b) || a.notAfter.getTime() - b.notAfter.getTime());
  const set: CertificateMessage[] = ordered.map((c) => ({ hostnames: c.hostnames, cert: c.cert, key: c.key }));
  if (fallback !== undefined) set.push({ hostnames: factsOf(parseChain(fallback.cert)).hostnames, cert: fallback.cert, key: fallback.key, default: true });
  return set;
}

/**
 * The server-wide default certificate (config tls.cert and tls.key), read and checked once at
 * start; undefined when neither is set. Throws a CertificateError naming the setting to fix.
 */
export function loadDefaultCertificate(certFile: string | undefined, keyFile: string | undefined): PemPair | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined)
    throw new CertificateError('tls.cert and tls.key go together: set both (SLIPWAY_TLS_CERT, SLIPWAY_TLS_KEY), or neither');
  const read = (file: string, setting: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new CertificateError(`cannot read ${setting} ${file} (${(error as NodeJS.ErrnoException).code}); check the path and its permissions`);
    }
  };
  const pair = { cert: read(certFile, 'tls.cert'), key: read(keyFile, 'tls.key') };
  let leaf;
  try {
    leaf = parseChain(pair.cert)[0]!;
    if (!leaf.checkPrivateKey(parseKey(pair.key))) throw new CertificateError('the key does not match the certificate');
  } catch (error) {
    throw new CertificateError(`tls.cert ${certFile} and tls.key ${keyFile}: ${(error as Error).message}`);
  }
  return pair;
}
