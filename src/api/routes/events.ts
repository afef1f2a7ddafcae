import { LABEL } from '../../deploy/containers.js';
import type { RouteContext } from '../context.js';

/** A blank line this often keeps an idle stream open through clients' and proxies' timeouts. */
const KEEPALIVE_MS = 30_000;

/**
 * What changed, as it changes, for pages to fetch again what they show (the dashboard): NDJSON,
 * one `{"app": "shop", "change": "deployment"}` (a deployment started, reached a phase or ended;
 * a scale or restart ended) or `{"app": "shop", "change": "containers"}` (a process container
 * started or stopped) per change, blank keep-alive lines, until the client leaves.
 */
export function eventRoutes(ctx: RouteContext): void {
  // One engine event stream, shared by every follower, open only while someone follows.
  const followers = new Set<(app: string) => void>();
  let stopWatch: (() => void) | undefined;
  const follow = (listener: (app: string) => void): (() => void) => {
    followers.add(listener);
    stopWatch ??= ctx.runtime.watch({ [LABEL.role]: 'process' }, (event) => {
      const app = event.labels[LABEL.app];
      if (app !== undefined) for (const f of followers) f(app);
    });
    return () => {
      followers.delete(listener);
      if (followers.size === 0) {
        stopWatch?.();
        stopWatch = undefined;
      }
    };
  };

  ctx.add('GET', '/api/events', (_req, _p, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const send = (app: string, change: string): void => void res.write(`${JSON.stringify({ app, change })}\n`);
    const stopDeploys = ctx.deployer.onChange((app) => send(app, 'deployment'));
    const stopContainers = follow((app) => send(app, 'containers'));
    const keepalive = setInterval(() => res.write('\n'), KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      stopDeploys();
      stopContainers();
    });
    return { raw: true };
  });
}
