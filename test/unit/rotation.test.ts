import { deadTarget, takeOutDeadWebContainers } from '../../src/deploy/rotation.js';
import type { ContainerEvent } from '../../src/runtime/runtime.js';
import type { RouteTarget } from '../../src/store/store.js';

const routed: RouteTarget = { host: '127.0.0.1', port: 31001, container: 'slipway-my-app-3-web-1' };
const route = { targets: [routed, { host: '127.0.0.1', port: 31002, container: 'slipway-my-app-3-web-2' }] };

function event(action: 'die' | 'start', labels: Record<string, string>): ContainerEvent {
  return {
    action,
    id: 'c0ffee',
    labels: { 'slipway.app': 'my-app', 'slipway.type': 'web', 'slipway.port': '31001', name: 'slipway-my-app-3-web-1', ...labels },
  };
}

describe('deadTarget: when a dead container leaves the rotation', () => {
  test('a routed web container that dies', () => {
    expect(deadTarget(event('die', {}), route)).toEqual(routed);
  });

  test.each<[string, ContainerEvent, typeof route | undefined]>([
    ['a start', event('start', {}), route],
    ['a worker', event('die', { 'slipway.type': 'worker' }), route],
    ['a container without a port', event('die', { 'slipway.port': '' }), route],
    ['a retired container whose port a replacement reuses', event('die', { name: 'slipway-my-app-2-web-1' }), route],
    ['a port the route does not have', event('die', { 'slipway.port': '31009' }), route],
    ['an app without a route', event('die', {}), undefined],
  ])('not %s', (_name, e, r) => {
    expect(deadTarget(e, r)).toBeUndefined();
  });
});

test('takeOutDeadWebContainers takes out what deadTarget names, for the app of the event, and stops watching', () => {
  let listener: ((e: ContainerEvent) => void) | undefined;
  let watchedLabels: Record<string, string> | undefined;
  let stopped = false;
  const takenOut: RouteTarget[] = [];
  const asked: string[] = [];
  const stop = takeOutDeadWebContainers({
    runtime: {
      watch: (labels, onEvent) => {
        watchedLabels = labels;
        listener = onEvent;
        return () => void (stopped = true);
      },
    },
    store: {
      getRoute: (app) => {
        asked.push(app);
        return app === 'my-app' ? { app, deployment: 3, targets: route.targets } : undefined;
      },
    },
    takeOut: (target) => void takenOut.push(target),
  });
  expect(watchedLabels).toEqual({ 'slipway.role': 'process' });
  listener!(event('die', { 'slipway.type': 'worker' }));
  listener!(event('die', {}));
  listener!(event('die', { 'slipway.app': 'other-app' }));
  expect(takenOut).toEqual([routed]);
  expect(asked).toEqual(['my-app', 'my-app', 'other-app']);
  stop();
  expect(stopped).toBe(true);
});
