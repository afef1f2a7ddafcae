import { execFileSync } from 'node:child_process';

/**
 * Writes a self-signed ECDSA P-256 certificate and its key as PEM files (openssl CLI): the one
 * way the benchmarks and the tests make one. self-signed.d.mts types it for the tests.
 * `subjectAltName` is openssl's form, such as `IP:127.0.0.1,DNS:localhost`.
 */
export function selfSignedCertificate({ keyFile, certFile, subject, days, subjectAltName }) {
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  args.push('-keyout', keyFile, '-out', certFile, '-days', String(days), '-subj', subject);
  if (subjectAltName !== undefined) args.push('-addext', `subjectAltName=${subjectAltName}`);
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
