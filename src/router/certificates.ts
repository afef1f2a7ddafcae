/**
 * The router's certificates, by host name, as TLS SecureContexts: chosen by SNI for each new
 * handshake (exact name, then the wildcard one label up, as browsers match), else the server-wide
 * default. Replaced whole by each `certificates` command: connections already open keep theirs,
 * the next handshake gets the new one.
 */
import tls from 'node:tls';
import type { CertificateMessage } from './messages.js';

export class CertificateView {
  private exact = new Map<string, tls.SecureContext>();
  /** `*.example.com` is kept under `example.com`. */
  private wildcard = new Map<string, tls.SecureContext>();
  private fallback: tls.SecureContext | undefined;
  private last: CertificateMessage[] = [];

  constructor(private readonly log: (line: string) => void) {}

  /** For the TLS server's SNICallback; undefined leaves the server's own (default) context. */
  contextFor(servername: string): tls.SecureContext | undefined {
    const host = servername.toLowerCase();
    const found = this.exact.get(host);
    if (found !== undefined) return found;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const parent = this.wildcard.get(host.slice(dot + 1));
      if (parent !== undefined) return parent;
    }
    return this.fallback;
  }

  /** The default certificate's context, for clients that send no SNI name. */
  get defaultContext(): tls.SecureContext | undefined {
    return this.fallback;
  }

  current(): CertificateMessage[] {
    return this.last;
  }

  /** Later certificates win a name (the server orders them). One that cannot be loaded is skipped and logged. */
  apply(certificates: CertificateMessage[]): void {
    const exact = new Map<string, tls.SecureContext>();
    const wildcard = new Map<string, tls.SecureContext>();
    let fallback: tls.SecureContext | undefined;
    // The default first: an app's own certificate wins a name they share.
    const ordered = [...certificates.filter((c) => c.default === true), ...certificates.filter((c) => c.default !== true)];
    for (const certificate of ordered) {
      let context: tls.SecureContext;
      try {
        context = tls.createSecureContext({ cert: certificate.cert, key: certificate.key });
      } catch (error) {
        this.log(`router: cannot serve the certificate for ${certificate.hostnames.join(', ')}: ${(error as Error).message}`);
        continue;
      }
      if (certificate.default === true) fallback = context;
      for (const name of certificate.hostnames) {
        const lower = name.toLowerCase();
        if (lower.startsWith('*.')) wildcard.set(lower.slice(2), context);
        else exact.set(lower, context);
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
    this.fallback = fallback;
    this.last = certificates;
  }
}
