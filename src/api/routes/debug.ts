import { ADMIN } from '../../auth/tokens.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

/** `gc` exists when Node runs with --expose-gc (NODE_OPTIONS=--expose-gc), as the scale benchmark starts it. */
const forceGc = (globalThis as { gc?: () => void }).gc;

/**
 * The server's own memory, for benchmarks (admin only). After a forced collection when Node allows
 * one, so what is held (per app, say) is told apart from garbage V8 has not collected yet.
 */
export function debugRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/debug/memory', (req) => {
    if (ctx.identity(req).name !== ADMIN) throw new ApiError(403, 'forbidden', 'only the admin token can read the server memory');
    // Twice: the first collection can leave objects only the second finds unreachable (weak maps, finalizers).
    forceGc?.();
    forceGc?.();
    const m = process.memoryUsage();
    return {
      json: {
        gcForced: forceGc !== undefined,
        rssBytes: m.rss,
        heapUsedBytes: m.heapUsed,
        heapTotalBytes: m.heapTotal,
        externalBytes: m.external,
        arrayBuffersBytes: m.arrayBuffers,
      },
    };
  });
}
