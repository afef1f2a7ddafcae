import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import type { Identity } from '../auth/tokens.js';

export const SESSION_COOKIE = 'slipway_session';
/** The header a dashboard page sends its session's CSRF token in, with every state-changing request. */
export const CSRF_HEADER = 'x-slipway-csrf';
export const LOGIN_LINK_MS = 2 * 60 * 1000;
export const SESSION_MS = 12 * 60 * 60 * 1000;
/** Enough for every person and browser of one server; past it the oldest session ends first. */
const MAX_SESSIONS = 1000;
const MAX_LINKS = 100;

export interface Session {
  identity: Identity;
  csrf: string;
  expiresAt: number;
}

/** Why a request that carries a session may not change anything. */
export type CsrfProblem = 'origin' | 'token';

/**
 * The dashboard's logins: one-time links (2 minutes) and browser sessions (12 hours), kept in
 * memory only — a restart of the server logs every browser out, and nothing about a session is
 * ever written to disk. Sessions and links are looked up by the SHA-256 of their secret, so a
 * comparison's timing reveals nothing.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly links = new Map<string, { identity: Identity; expiresAt: number }>();

  constructor(
    /** Whether a revoked token's sessions end: asked on every request. */
    private readonly stillValid: (identity: Identity) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** A one-time login code for `identity`, valid for LOGIN_LINK_MS. */
  createLink(identity: Identity): { code: string; expiresAt: number } {
    this.sweep();
    if (this.links.size >= MAX_LINKS) this.links.delete(this.links.keys().next().value!);
    const code = randomBytes(24).toString('base64url');
    const expiresAt = this.now() + LOGIN_LINK_MS;
    this.links.set(digest(code), { identity: { name: identity.name }, expiresAt });
    return { code, expiresAt };
  }

  /** The identity of a valid, unused code; the code is used up either way. */
  redeemLink(code: string): Identity | undefined {
    const key = digest(code);
    const link = this.links.get(key);
    this.links.delete(key);
    if (!link || link.expiresAt <= this.now() || !this.stillValid(link.identity)) return undefined;
    return link.identity;
  }

  /** Starts a session; returns its secret (the cookie's value) and the session. */
  start(identity: Identity): { id: string; session: Session } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session = { identity: { name: identity.name }, csrf: randomBytes(24).toString('base64url'), expiresAt: this.now() + SESSION_MS };
    this.sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session the request's cookie names, if any. */
  fromRequest(req: IncomingMessage): Session | undefined {
    const id = sessionId(req);
    if (!id) return undefined;
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= this.now() || !this.stillValid(session.identity)) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  end(req: IncomingMessage): void {
    const id = sessionId(req);
    if (id) this.sessions.delete(digest(id));
  }

  /**
   * Whether a state-changing request made with this session's cookie comes from the dashboard
   * itself: the browser's Origin is this server's host, and the page sent the session's CSRF
   * token (which a cross-site page cannot read).
   */
  csrfProblem(req: IncomingMessage, session: Session): CsrfProblem | undefined {
    if (!sameOrigin(req)) return 'origin';
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !equal(sent, session.csrf)) return 'token';
    return undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(key);
    for (const [key, link] of this.links) if (link.expiresAt <= now) this.links.delete(key);
  }
}

/** The Set-Cookie value that starts (or, with no id, ends) a session. */
export function sessionCookie(id: string | undefined, secure: boolean): string {
  return serializeCookie(SESSION_COOKIE, id ?? '', {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    maxAge: id ? SESSION_MS / 1000 : 0,
  });
}

/** Browsers send Origin with every POST, PUT, PATCH and DELETE; it must name this very host. */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host || origin === 'null') return false;
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

function sessionId(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  return parseCookies(header)[SESSION_COOKIE] || undefined;
}

function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
