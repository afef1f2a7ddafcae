export interface SelfSignedOptions {
  keyFile: string;
  certFile: string;
  /** openssl's form: `/CN=name`. */
  subject: string;
  days: number;
  /** openssl's form: `IP:127.0.0.1,DNS:localhost`. */
  subjectAltName?: string;
}

/** Writes a self-signed ECDSA P-256 certificate and its key as PEM files (openssl CLI). */
export declare function selfSignedCertificate(options: SelfSignedOptions): void;
