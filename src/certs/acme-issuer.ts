import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import acme from 'acme-client';

/** A certificate as issued: its private key and the chain (leaf first), both PEM. */
export interface IssuedCertificate {
  key: string;
  chain: string;
}

/** Publishes the answer to an HTTP-01 challenge while `during` runs, and withdraws it after. */
export type ChallengeAnswer = <T>(token: string, keyAuthorization: string, during: () => Promise<T>) => Promise<T>;

/** Orders one certificate for one host name; the manager needs nothing else of ACME. */
export interface CertificateIssuer {
  issue(domain: string): Promise<IssuedCertificate>;
}

/** An order that failed; the message is what `slipway certs` shows (the ACME server's own reason where it gave one). */
export class AcmeOrderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcmeOrderError';
  }
}

export interface AcmeIssuerOptions {
  directoryUrl: string;
  email: string | undefined;
  /** The account's private key lives here (PEM, 0600); made on first use. */
  accountKeyFile: string;
  /** External Account Binding (acme.eabKid, acme.eabHmacKey): the account is tied to one the user has at the certificate authority. */
  externalAccount?: { kid: string; hmacKey: string } | undefined;
  answer: ChallengeAnswer;
}

/** One request to the ACME server may take this long; an order is several. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Orders certificates with acme-client's order, authorization and challenge calls. Not its
 * `auto()`: that first fetches the challenge itself through this machine's DNS, which is not
 * the resolver the certificate authority uses (and, in tests, knows none of pebble's names); the
 * authority's own validation is the one that counts.
 */
export class AcmeIssuer implements CertificateIssuer {
  private client: Promise<acme.Client> | undefined;

  constructor(private readonly options: AcmeIssuerOptions) {
    acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  }

  async issue(domain: string): Promise<IssuedCertificate> {
    try {
      const client = await this.account();
      const order = await client.createOrder({ identifiers: [{ type: 'dns', value: domain }] });
      for (const authorization of await client.getAuthorizations(order)) {
        if (authorization.status === 'valid') continue;
        const challenge = authorization.challenges.find((c) => c.type === 'http-01');
        if (!challenge) throw new AcmeOrderError(`the ACME server offered no http-01 challenge for ${domain}, the only kind Slipway answers`);
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        await this.options.answer(challenge.token, keyAuthorization, async () => {
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        });
      }
      const key = await acme.crypto.createPrivateEcdsaKey('P-256');
      const [, csr] = await acme.crypto.createCsr({ altNames: [domain] }, key);
      const finalized = await client.finalizeOrder(order, csr);
      const chain = await client.getCertificate(finalized);
      return { key: key.toString(), chain };
    } catch (error) {
      // A lost account is made again on the next order (the key stays the same).
      if (!(error instanceof AcmeOrderError)) this.client = undefined;
      throw error instanceof AcmeOrderError ? error : new AcmeOrderError(reason(error));
    }
  }

  /** The ACME client with its account registered (once per process; the server answers an existing key with its account). */
  private account(): Promise<acme.Client> {
    this.client ??= (async () => {
      const eab = this.options.externalAccount;
      const client = new acme.Client({
        directoryUrl: this.options.directoryUrl,
        accountKey: loadAccountKey(this.options.accountKeyFile, await newKey()),
        ...(eab === undefined ? {} : { externalAccountBinding: eab }),
      });
      try {
        await client.createAccount({
          termsOfServiceAgreed: true,
          ...(this.options.email === undefined ? {} : { contact: [`mailto:${this.options.email}`] }),
        });
      } catch (error) {
        // acme-client keeps only the problem's detail, which names the binding (RFC 8555 externalAccountRequired).
        if (eab === undefined && /external.?account/i.test(reason(error))) throw new AcmeOrderError(eabRequired(this.options.directoryUrl, reason(error)));
        throw error;
      }
      return client;
    })().catch((error: unknown) => {
      // No account: the next order asks again.
      this.client = undefined;
      throw error;
    });
    return this.client;
  }
}

async function newKey(): Promise<Buffer> {
  return acme.crypto.createPrivateEcdsaKey('P-256');
}

/** The persisted account key, or `fresh` written in its place (0600, whole or not at all) when there is none. */
function loadAccountKey(file: string, fresh: Buffer): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, fresh, { mode: 0o600 });
  renameSync(partial, file);
  return fresh;
}

function eabRequired(directoryUrl: string, detail: string): string {
  return (
    `The ACME server ${directoryUrl} requires External Account Binding (it said: ${detail}); ` +
    `set acme.eabKid and acme.eabHmacKey (SLIPWAY_ACME_EAB_KID, SLIPWAY_ACME_EAB_HMAC_KEY) to the key ID and HMAC key from your account at the certificate authority, then restart the server.`
  );
}

/** acme-client's errors carry the server's problem detail as their message; network errors say what failed. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && !message.includes(code)) return `${message} (${code})`;
  return message || 'the ACME server gave no reason';
}
