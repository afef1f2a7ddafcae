import { CertificateError, checkCertificate, nameCovers, type CertificateFacts } from '../../certs/pem.js';
import type { CertificateStore, StoredCertificate } from '../../certs/store.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** What the certificate endpoints use besides the common context. */
export interface CertificateDeps {
  store: CertificateStore;
  /** The server-wide default certificate (tls.cert), if configured. */
  defaultCertificate: CertificateFacts | undefined;
  /** Resolves once every router serves the certificates as they are now. */
  updated(): Promise<void>;
  /** The last ACME error for an app's domain (the ACME side fills it). */
  acmeError?(app: string, domain: string): string | undefined;
}

export interface DomainCertificate {
  domain: string;
  source: 'uploaded' | 'auto' | 'default' | 'none';
  /** The certificate's names, issuer and expiry (null with source none). */
  hostnames: string[] | null;
  issuer: string | null;
  expiresAt: string | null;
  acmeError: string | null;
}

/** Certificates per domain of an app: uploaded ones (certs:add), and what the ACME side stores. */
export function certificateRoutes(ctx: RouteContext): void {
  const certs = ctx.certificates;
  const domainsOf = (app: string): string[] => [`${app}.${ctx.domain}`, ...ctx.store.listDomains(app).map((d) => d.domain)];
  const list = (app: string): DomainCertificate[] => {
    const mine = certs.store.forApp(app);
    return domainsOf(app).map((domain) => describe(domain, pick(mine, domain), certs.defaultCertificate, certs.acmeError?.(app, domain)));
  };

  ctx.add('GET', '/api/apps/:app/certs', (_req, p) => ({ json: list(ctx.app(p).name) }));
  ctx.add('POST', '/api/apps/:app/certs', async (req, p) => {
    const app = ctx.app(p).name;
    const { cert, key } = await readJsonObject(req);
    if (typeof cert !== 'string' || typeof key !== 'string') {
      throw new ApiError(400, 'invalid_certificate', 'send {"cert": "<PEM certificate and chain>", "key": "<PEM private key>"}');
    }
    try {
      checkCertificate(cert, key, domainsOf(app), new Date());
    } catch (error) {
      if (error instanceof CertificateError) throw new ApiError(400, 'invalid_certificate', error.message);
      throw error;
    }
    certs.store.put(app, 'uploaded', cert, key);
    await certs.updated();
    return { status: 201, json: list(app) };
  });
  ctx.add('DELETE', '/api/apps/:app/certs/:domain', async (_req, p) => {
    const app = ctx.app(p).name;
    const domain = (p.domain ?? '').toLowerCase();
    if (certs.store.remove(app, domain) === 0) {
      throw new ApiError(404, 'certificate_not_found', `${app} has no certificate for ${domain}; list them with GET /api/apps/${app}/certs`);
    }
    await certs.updated();
    return { json: list(app) };
  });
}

/** The certificate the router serves a domain with among the app's: exact name first, uploaded over auto. */
function pick(certs: readonly StoredCertificate[], domain: string): StoredCertificate | undefined {
  const covering = certs.filter((c) => c.hostnames.some((name) => nameCovers(name, domain)));
  const score = (c: StoredCertificate): number => (c.hostnames.includes(domain) ? 2 : 0) + (c.source === 'uploaded' ? 1 : 0);
  return covering.sort((a, b) => score(b) - score(a) || b.notAfter.getTime() - a.notAfter.getTime())[0];
}

function describe(
  domain: string,
  cert: StoredCertificate | undefined,
  fallback: CertificateFacts | undefined,
  acmeError: string | undefined,
): DomainCertificate {
  const facts: CertificateFacts | undefined = cert ?? (fallback?.hostnames.some((name) => nameCovers(name, domain)) ? fallback : undefined);
  return {
    domain,
    source: cert?.source ?? (facts === undefined ? 'none' : 'default'),
    hostnames: facts?.hostnames ?? null,
    issuer: facts?.issuer ?? null,
    expiresAt: facts?.notAfter.toISOString() ?? null,
    acmeError: acmeError ?? null,
  };
}
