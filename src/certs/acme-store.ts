import type { IssuedCertificate } from './acme-issuer.js';
import type { AutoCertificateStore } from './acme-manager.js';
import { nameCovers } from './pem.js';
import type { CertificateStore } from './store.js';

/** The certificate store as the ACME manager sees it: automatic certificates by exact name, and any upload covering the name. */
export function autoCertificateStore(store: CertificateStore): AutoCertificateStore {
  return {
    find(domain) {
      const all = store.list();
      // An upload covering the name (a wildcard too) is the user's choice: nothing is ordered for it.
      const uploaded = all.filter((c) => c.source === 'uploaded' && c.hostnames.some((name) => nameCovers(name, domain)));
      if (uploaded.length > 0) return { source: 'uploaded', notAfter: Math.max(...uploaded.map((c) => c.notAfter.getTime())) };
      const auto = all.filter((c) => c.source === 'auto' && c.hostnames.includes(domain));
      if (auto.length === 0) return undefined;
      return { source: 'auto', notAfter: Math.max(...auto.map((c) => c.notAfter.getTime())) };
    },
    async saveAuto(app: string, _domain: string, certificate: IssuedCertificate) {
      store.put(app, 'auto', certificate.chain, certificate.key);
    },
    async removeAuto(domain) {
      for (const app of new Set(
        store
          .list()
          .filter((c) => c.source === 'auto' && c.hostnames.includes(domain))
          .map((c) => c.app),
      )) {
        store.remove(app, domain, 'auto');
      }
    },
  };
}
