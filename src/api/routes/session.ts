import type { IncomingMessage } from 'node:http';
import type { Identity } from '../../auth/tokens.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';
import { sameOrigin, sessionCookie, type Session } from '../sessions.js';

/**
 * The dashboard's sessions: log in with a one-time link's code or a token (a cookie comes
 * back), see who is logged in, log out; and the one-time links `slipway dashboard` prints.
 */
export function sessionRoutes(ctx: RouteContext): void {
  const { sessions, secureCookies } = ctx.dashboard;
  const secure = (req: IncomingMessage): boolean => secureCookies || Boolean((req.socket as { encrypted?: boolean }).encrypted);
  const sessionJson = (identity: Identity, session: Session | undefined): object => ({
    name: identity.name,
    csrf: session?.csrf ?? null,
    expiresAt: session ? iso(session.expiresAt) : null,
  });

  ctx.add(
    'POST',
    '/api/session',
    async (req, _p, res) => {
      // A browser always says where a POST comes from: another site must not log it in (login CSRF).
      if ((req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) && !sameOrigin(req)) {
        throw new ApiError(403, 'cross_site', 'log in from the dashboard itself, not from another site');
      }
      const { token, code } = await readJsonObject(req);
      let identity: Identity | undefined;
      if (typeof code === 'string' && code !== '') {
        identity = sessions.redeemLink(code);
        if (!identity)
          throw new ApiError(401, 'invalid_login_link', 'this login link was used already or is over 2 minutes old; run "slipway dashboard" for a new one');
      } else if (typeof token === 'string' && token.trim() !== '') {
        identity = ctx.auth.verify(token.trim());
        if (!identity) throw new ApiError(401, 'invalid_token', 'that token is not valid; paste the admin token or a named token (slipway tokens:create)');
      } else {
        throw new ApiError(400, 'invalid_login', 'send {"token": "<token>"} or {"code": "<code from a login link>"}');
      }
      const { id, session } = sessions.start(identity);
      res.setHeader('set-cookie', sessionCookie(id, secure(req)));
      return { status: 201, json: sessionJson(identity, session) };
    },
    { anonymous: true },
  );
  ctx.add('GET', '/api/session', (req) => ({ json: sessionJson(ctx.identity(req), sessions.fromRequest(req)) }));
  ctx.add('DELETE', '/api/session', (req, _p, res) => {
    sessions.end(req);
    res.setHeader('set-cookie', sessionCookie(undefined, secure(req)));
    return { json: { loggedOut: ctx.identity(req).name } };
  });
  ctx.add('POST', '/api/session/links', (req) => {
    const { code, expiresAt } = sessions.createLink(ctx.identity(req));
    // In the fragment: never sent to a server, so it lands in no access log or Referer.
    return { status: 201, json: { path: `/login#code=${code}`, expiresAt: iso(expiresAt) } };
  });
}
