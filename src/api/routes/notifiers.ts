import { notifierEvents, notifierFormat, notifierUrl, NotifierInputError } from '../../notify/validate.js';
import type { DeliveryRecord, NotifierRecord } from '../../store/notifiers.js';
import { readJsonObject } from '../body.js';
import { query, type Params, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';
import { iso } from '../reply.js';

const MAX_NOTIFIERS = 20;

/** Deploy notifications: webhooks per app, a test send, and the delivery log. */
export function notifierRoutes(ctx: RouteContext): void {
  const notifier = (p: Params): NotifierRecord => {
    const app = ctx.app(p).name;
    const id = Number(p.id);
    const found = Number.isInteger(id) ? ctx.notifications.get(app, id) : undefined;
    if (!found)
      throw new ApiError(404, 'notifier_not_found', `${app} has no notifier ${p.id}; list them with slipway notifiers (GET /api/apps/${app}/notifiers)`);
    return found;
  };

  ctx.add('GET', '/api/apps/:app/notifiers', (_req, p) => ({ json: ctx.notifications.list(ctx.app(p).name).map(notifierJson) }));
  ctx.add('POST', '/api/apps/:app/notifiers', async (req, p) => {
    const app = ctx.app(p).name;
    const body = await readJsonObject(req);
    let input;
    try {
      input = { url: notifierUrl(body.url), events: notifierEvents(body.events), format: notifierFormat(body.format) };
    } catch (error) {
      if (error instanceof NotifierInputError) throw new ApiError(400, error.code, error.message);
      throw error;
    }
    if (ctx.notifications.list(app).length >= MAX_NOTIFIERS) {
      throw new ApiError(409, 'too_many_notifiers', `${app} already has ${MAX_NOTIFIERS} notifiers; remove one first (slipway notifiers:remove ID)`);
    }
    const created = ctx.notifications.add(app, input);
    return { status: 201, json: { ...notifierJson(created.notifier), secret: created.secret } };
  });
  ctx.add('GET', '/api/apps/:app/notifiers/deliveries', (req, p) => {
    const app = ctx.app(p).name;
    const only = query(req).get('notifier');
    const id = only === null ? undefined : notifier({ ...p, id: only }).id;
    return { json: ctx.notifications.deliveries(app, id).map(deliveryJson) };
  });
  ctx.add('DELETE', '/api/apps/:app/notifiers/:id', (_req, p) => {
    const n = notifier(p);
    ctx.notifications.remove(n.app, n.id);
    return { json: ctx.notifications.list(n.app).map(notifierJson) };
  });
  ctx.add('GET', '/api/apps/:app/notifiers/:id/deliveries', (_req, p) => {
    const n = notifier(p);
    return { json: ctx.notifications.deliveries(n.app, n.id).map(deliveryJson) };
  });
  ctx.add('POST', '/api/apps/:app/notifiers/:id/test', async (_req, p) => {
    const delivery = await ctx.notifications.test(notifier(p));
    if (!delivery) throw new ApiError(404, 'notifier_not_found', `the notifier ${p.id} was removed meanwhile`);
    return { json: deliveryJson(delivery) };
  });
}

/** Never the secret: it is shown once, when the notifier is created. */
function notifierJson(n: NotifierRecord): object {
  return { id: n.id, url: n.url, events: n.events.length === 0 ? 'all' : n.events, format: n.format, createdAt: iso(n.createdAt) };
}

function deliveryJson(d: DeliveryRecord): object {
  return {
    id: d.id,
    notifier: d.notifier,
    event: d.event,
    state: d.state,
    attempts: d.attempts,
    statusCode: d.statusCode,
    error: d.error,
    nextAttemptAt: d.nextAttemptAt === null ? null : iso(d.nextAttemptAt),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}
