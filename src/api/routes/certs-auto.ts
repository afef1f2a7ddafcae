import { readJsonObject } from '../body.js';
import type { RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

/** Automatic certificates (certs:auto): turning them on and off, and each name's ACME state. */
export function certsAutoRoutes(ctx: RouteContext): void {
  const autoJson = (app: string): object => ({
    enabled: ctx.store.acme.isEnabled(app),
    domains: ctx.autoCerts.namesOf(app).map((domain) => {
      const status = ctx.autoCerts.status(domain);
      return {
        domain,
        state: status?.state ?? 'off',
        lastError: status?.lastError ?? null,
        lastErrorAt: status?.lastErrorAt ? iso(status.lastErrorAt) : null,
        nextAttemptAt: status?.nextAttemptAt ? iso(status.nextAttemptAt) : null,
        failures: status?.failures ?? 0,
      };
    }),
  });

  ctx.add('GET', '/api/apps/:app/certs/auto', (_req, p) => ({ json: autoJson(ctx.app(p).name) }));
  ctx.add('PUT', '/api/apps/:app/certs/auto', async (req, p) => {
    const app = ctx.app(p).name;
    const { enabled } = await readJsonObject(req);
    if (typeof enabled !== 'boolean') {
      throw new ApiError(400, 'invalid_certs_auto', 'send {"enabled": true} to have certificates ordered for the app\'s domains, {"enabled": false} to stop');
    }
    ctx.store.acme.setEnabled(app, enabled);
    // Orders start in the background: the answer shows them under way, `slipway certs` their outcome.
    ctx.autoCerts.reconcile();
    return { json: autoJson(app) };
  });
}
