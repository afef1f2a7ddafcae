import { isIP } from 'node:net';

/**
 * Last labels that no public certificate authority issues for (RFC 6761, RFC 6762, RFC 8375 and
 * the common private ones): a server domain ending in one of them is not on the internet.
 */
const PRIVATE_SUFFIXES = ['localhost', 'test', 'example', 'invalid', 'local', 'internal', 'lan', 'home.arpa'];

/**
 * Whether `<app>.<domain>` names can get a public certificate: the server's domain has a dot,
 * is not an IP address, and does not end in a private or reserved suffix. `localhost` (the
 * default) and `slipway.test` cannot; `apps.example.org` can.
 */
export function isPublicDomain(domain: string): boolean {
  if (isIP(domain) !== 0 || !domain.includes('.')) return false;
  return !PRIVATE_SUFFIXES.some((suffix) => domain === suffix || domain.endsWith(`.${suffix}`));
}

/** The names of an app that certs:auto orders certificates for: its custom domains, and `<app>.<domain>` when that is public. */
export function autoNames(app: string, customDomains: readonly string[], serverDomain: string): string[] {
  return isPublicDomain(serverDomain) ? [...customDomains, `${app}.${serverDomain}`] : [...customDomains];
}
