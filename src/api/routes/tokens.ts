import type { IncomingMessage } from 'node:http';
import { ADMIN, generateToken, hashToken } from '../../auth/tokens.js';
import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

const TOKEN_NAME = /^[A-Za-z0-9_-]{1,40}$/;

/** Named tokens: admin only. */
export function tokenRoutes(ctx: RouteContext): void {
  const adminOnly = (req: IncomingMessage): void => {
    if (ctx.identity(req).name !== ADMIN) {
      throw new ApiError(403, 'forbidden', 'only the admin token can manage tokens');
    }
  };
  ctx.add('GET', '/api/tokens', (req) => {
    adminOnly(req);
    return { json: ctx.store.listTokens().map((t) => ({ name: t.name, createdAt: iso(t.createdAt) })) };
  });
  ctx.add('POST', '/api/tokens', async (req) => {
    adminOnly(req);
    const { name } = await readJsonObject(req);
    if (typeof name !== 'string' || !TOKEN_NAME.test(name) || name === ADMIN) {
      throw new ApiError(400, 'invalid_token_name', 'name the token with 1 to 40 letters, digits, "-" or "_" (not "admin"), e.g. {"name": "ci"}');
    }
    const token = generateToken();
    if (!ctx.store.addToken(name, hashToken(token).toString('hex'))) {
      throw new ApiError(409, 'token_exists', `a token named ${name} exists; revoke it first or choose another name`);
    }
    // The only time the token is shown: only its hash is kept.
    return { status: 201, json: { name, token } };
  });
  ctx.add('DELETE', '/api/tokens/:name', (req, p) => {
    adminOnly(req);
    if (!ctx.store.removeToken(p.name ?? '')) {
      throw new ApiError(404, 'token_not_found', `there is no token named "${p.name}"; list them with GET /api/tokens`);
    }
    return { json: { revoked: p.name } };
  });
}
