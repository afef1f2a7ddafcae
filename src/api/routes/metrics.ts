import { query, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** The longest `since` an app's metrics may be asked for (what the database can keep at most). */
const MAX_SINCE_HOURS = 64;

/**
 * An app's metrics per minute (`?since=1h`, default 1h: requests by status class, latency
 * percentiles, bytes, containers' CPU and memory), and `/metrics`, the server's Prometheus
 * exposition, for a token only (a scraper has no browser session).
 */
export function metricRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/metrics', (req, p) => {
    const app = ctx.app(p).name;
    const since = query(req).get('since') ?? '1h';
    const sinceMs = parseSince(since);
    return { json: { app, since, minutes: ctx.metrics.series(app, sinceMs) } };
  });

  ctx.add(
    'GET',
    '/metrics',
    async (req, _p, res) => {
      if (!ctx.auth.fromRequest(req)) {
        throw new ApiError(
          401,
          'unauthorized',
          'a valid token is required: send "Authorization: Bearer <token>" (the admin token or one made with slipway tokens:create)',
        );
      }
      const text = await ctx.metrics.prom.exposition();
      res.writeHead(200, { 'content-type': ctx.metrics.prom.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return { raw: true };
    },
    { anonymous: true },
  );
}

/** `30m`, `1h`, `24h` → milliseconds. */
export function parseSince(value: string): number {
  const match = /^(\d{1,4})(m|h)$/.exec(value);
  const ms = match ? Number(match[1]) * (match[2] === 'h' ? 3_600_000 : 60_000) : NaN;
  if (!match || ms < 60_000 || ms > MAX_SINCE_HOURS * 3_600_000) {
    throw new ApiError(400, 'invalid_since', `since must be minutes or hours such as 30m, 1h or 24h (at most ${MAX_SINCE_HOURS}h), not "${value}"`);
  }
  return ms;
}
