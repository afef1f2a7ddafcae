import { compareLogTimes, matchesFilter, type LogRecord } from '../../logs/merge.js';
import { openAppLogs } from '../../logs/reader.js';
import { accessLogRecord, ROUTER_SOURCE } from '../../metrics/access-line.js';
import { query, type RouteContext } from '../context.js';
import { ApiError } from '../errors.js';

const DEFAULT_LINES = 100;
const MAX_LINES = 10_000;
/** A blank line this often keeps an idle follow open through clients' and proxies' timeouts. */
const KEEPALIVE_MS = 30_000;
/** A follower that reads slower than the app prints is let go rather than buffered for. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

/**
 * The output of the app's containers (processes and one-offs, running or exited), merged in
 * time order, as NDJSON: `?lines=N` (default 100), `?type=web`, `?ps=web-1`, and `?follow=1`
 * to keep sending new lines (blank lines are keep-alives) until the client disconnects.
 */
export function logRoutes(ctx: RouteContext): void {
  ctx.add('GET', '/api/apps/:app/logs', async (req, p, res) => {
    const app = ctx.app(p).name;
    const q = query(req);
    const lines = parseLines(q.get('lines'));
    const follow = q.has('follow') && q.get('follow') !== '0';
    const abort = new AbortController();
    res.on('close', () => abort.abort());

    const filter = { type: q.get('type') ?? undefined, ps: q.get('ps') ?? undefined };
    // The router's access lines are the app's too: type and name `router`.
    const withRouter = matchesFilter(ROUTER_SOURCE, filter);
    // The routers' latest lines in first; then followed from before the backlog is read, in the
    // same turn, so no line falls in between and none is sent twice (those that come meanwhile
    // wait until the backlog is out).
    const routerLines = withRouter ? await ctx.metrics.accessLines(app, lines) : [];
    const early: LogRecord[] = [];
    let onRouterLine = (record: LogRecord): void => void early.push(record);
    const unfollow = withRouter && follow ? ctx.metrics.accessLog.follow(app, (r) => onRouterLine(accessLogRecord(r))) : undefined;
    res.on('close', () => unfollow?.());
    const routerBacklog = routerLines.map(accessLogRecord);
    const logs = await openAppLogs(ctx.runtime, { app, lines, follow, ...filter }, abort.signal);
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
    const send = (record: LogRecord): void => void res.write(`${JSON.stringify(record)}\n`);
    for (const record of mergeByTime(logs.backlog, routerBacklog, lines)) send(record);
    if (!follow) {
      res.end();
      return { raw: true };
    }
    // Sent now, so the client sees the backlog (or an empty one) before the first new line.
    res.flushHeaders();
    const keepalive = setInterval(() => res.write('\n'), KEEPALIVE_MS);
    const sendLive = (record: LogRecord): void => {
      if (res.writableLength > MAX_UNSENT_BYTES) res.destroy();
      else send(record);
    };
    for (const record of early.splice(0)) sendLive(record);
    onRouterLine = sendLive;
    try {
      await logs.follow((record) => {
        if (res.writableLength > MAX_UNSENT_BYTES) res.destroy();
        else send(record);
      });
    } finally {
      clearInterval(keepalive);
      res.end();
    }
    return { raw: true };
  });
}

/** Two time-ordered backlogs as one, the last `lines` of them (containers' lines first at equal times). */
function mergeByTime(a: LogRecord[], b: LogRecord[], lines: number): LogRecord[] {
  if (b.length === 0) return a;
  const all = [...a, ...b].sort((x, y) => compareLogTimes(x.time, y.time));
  return all.slice(Math.max(0, all.length - lines));
}

function parseLines(value: string | null): number {
  if (value === null) return DEFAULT_LINES;
  const lines = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(lines) || lines < 1 || lines > MAX_LINES) {
    throw new ApiError(400, 'invalid_lines', `lines must be a whole number from 1 to ${MAX_LINES}, not "${value}"`);
  }
  return lines;
}
