/**
 * The certificates Slipway serves, one JSON file each in <data>/certs (0600: they hold private
 * keys), so they survive restarts and the router process can read them before the server is up.
 * The one owner of that folder: the API (uploads) and the ACME side (auto) write through it.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { factsOf, nameCovers, parseChain, type CertificateFacts } from './pem.js';

/** Where a certificate came from: uploaded by a user (certs:add) or ordered over ACME (certs:auto). */
export type CertificateSource = 'uploaded' | 'auto';

export interface StoredCertificate extends CertificateFacts {
  app: string;
  source: CertificateSource;
  /** PEM: leaf, then chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

interface FileRecord {
  app: string;
  source: CertificateSource;
  cert: string;
  key: string;
}

export class CertificateStore {
  private readonly dir: string;
  private readonly listeners = new Set<() => void>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'certs');
  }

  /**
   * Stores a certificate for an app (checked beforehand: see checkCertificate). It replaces the
   * app's certificates whose names it all covers (a renewal, or a new upload for the same
   * domains). Listeners hear of it once the file is in place.
   */
  put(app: string, source: CertificateSource, certPem: string, keyPem: string): StoredCertificate {
    const stored = toStored({ app, source, cert: certPem, key: keyPem });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileOf(stored);
    const temporary = `${file}.tmp`;
    writeFileSync(temporary, JSON.stringify({ app, source, cert: certPem, key: keyPem } satisfies FileRecord), { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
    for (const old of this.forApp(app)) {
      if (old.fingerprint === stored.fingerprint) continue;
      if (old.hostnames.every((name) => stored.hostnames.includes(name))) rmSync(this.fileOf(old), { force: true });
    }
    this.changed();
    return stored;
  }

  /** Removes the app's certificates that cover the domain (only those from `source` when given); returns how many. */
  remove(app: string, domain: string, source?: CertificateSource): number {
    const host = domain.toLowerCase();
    let removed = 0;
    for (const cert of this.forApp(app)) {
      if (!cert.hostnames.some((name) => nameCovers(name, host))) continue;
      if (source !== undefined && cert.source !== source) continue;
      rmSync(this.fileOf(cert), { force: true });
      removed++;
    }
    if (removed > 0) this.changed();
    return removed;
  }

  /** Removes every certificate of an app (the app was deleted). */
  removeApp(app: string): void {
    const mine = this.forApp(app);
    for (const cert of mine) rmSync(this.fileOf(cert), { force: true });
    if (mine.length > 0) this.changed();
  }

  /** Every stored certificate. A file that cannot be read is skipped (and named on stderr). */
  list(): StoredCertificate[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const all: StoredCertificate[] = [];
    for (const name of names.sort()) {
      try {
        all.push(toStored(JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as FileRecord));
      } catch (error) {
        console.error(`certificates: skipping ${path.join(this.dir, name)}: ${(error as Error).message}`);
      }
    }
    return all;
  }

  forApp(app: string): StoredCertificate[] {
    return this.list().filter((cert) => cert.app === app);
  }

  /** Calls `listener` after every change (to send the whole set to the router). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private fileOf(cert: { app: string; fingerprint: string }): string {
    return path.join(this.dir, `${cert.app}.${cert.fingerprint.slice(0, 32)}.json`);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function toStored(record: FileRecord): StoredCertificate {
  return { app: record.app, source: record.source, cert: record.cert, key: record.key, ...factsOf(parseChain(record.cert)) };
}
