import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface Identity {
  name: string;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function generateToken(): string {
  return `slw_${randomBytes(24).toString('base64url')}`;
}

/** Where named tokens live: their SHA-256 hashes, hex-encoded. */
export interface TokenRegistry {
  tokenNameByHash(hash: string): string | undefined;
  tokenExists(name: string): boolean;
}

export const ADMIN = 'admin';

/**
 * Verifies tokens: the admin token in constant time, named tokens by the hash of what was sent
 * (only hashes are stored, so a lookup reveals nothing about a token). A revoked token fails at
 * once: nothing is cached.
 */
export class TokenAuth {
  private readonly adminHash: Buffer;

  constructor(
    adminToken: string,
    private readonly registry: TokenRegistry,
  ) {
    this.adminHash = hashToken(adminToken);
  }

  verify(token: string | undefined): Identity | undefined {
    if (!token) return undefined;
    const hash = hashToken(token);
    if (timingSafeEqual(hash, this.adminHash)) return { name: ADMIN };
    const name = this.registry.tokenNameByHash(hash.toString('hex'));
    return name === undefined ? undefined : { name };
  }

  /** Whether the identity's token still works (it may have been revoked since). */
  stillValid(identity: Identity): boolean {
    return identity.name === ADMIN || this.registry.tokenExists(identity.name);
  }

  /** `Authorization: Bearer <token>`, or HTTP basic with the token as password (any user). */
  fromRequest(req: IncomingMessage): Identity | undefined {
    return this.verify(tokenFrom(req.headers.authorization));
  }
}

export function tokenFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\S+)\s+(.*)$/.exec(header.trim());
  if (!match) return undefined;
  const scheme = match[1]!;
  const value = match[2]!;
  if (scheme.toLowerCase() === 'bearer') return value.trim() || undefined;
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? undefined : decoded.slice(colon + 1) || undefined;
  }
  return undefined;
}
