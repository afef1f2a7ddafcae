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

/** Verifies tokens against stored SHA-256 hashes, in constant time. */
export class TokenAuth {
  private readonly tokens: { name: string; hash: Buffer }[];

  constructor(adminToken: string) {
    this.tokens = [{ name: 'admin', hash: hashToken(adminToken) }];
  }

  verify(token: string | undefined): Identity | undefined {
    if (!token) return undefined;
    const hash = hashToken(token);
    let found: Identity | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(hash, t.hash)) found = { name: t.name };
    }
    return found;
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
