import type { TestApp } from '../support/app.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { steadyLoad, type Load } from '../support/load.js';
import { ServerSuite, type TestServer } from '../support/server.js';

/**
 * The router is its own process: whatever happens to the server (SIGKILL, a graceful restart) or
 * to the router itself (replaced by a new process), keep-alive clients see no failed request, and
 * every app answers from its current containers afterwards, in every router process.
 */
describe.each([
  { workers: 0, label: 'one router process' },
  { workers: 2, label: 'two router processes' },
])('$label', ({ workers }) => {
  const apps = [`rproc${workers}-a`, `rproc${workers}-b`];
  const suite = new ServerSuite(apps);
  let server: TestServer;
  const sources = new Map<string, TestApp>();
  const serving = new Map<string, string>();

  beforeAll(async () => {
    ({ server } = await suite.start({ env: { SLIPWAY_ROUTER_WORKERS: String(workers) } }));
    for (const app of apps) {
      const source = suite.app(busyboxApp({ web: WEB }));
      sources.set(app, source);
      serving.set(app, await source.commit(`first ${app}`));
      const pushed = await source.push(server.remote(app));
      expect(pushed.exitCode).toBe(0);
    }
  }, 120_000);

  afterAll(() => suite.stop(), 60_000);

  /** Fresh connections (so that every router process answers some): each gets the app's current commit. */
  async function everyAppAnswers(): Promise<void> {
    for (const app of apps) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => getApp(server.routerPort, app, '/version.txt')));
      expect(answers).toEqual(Array.from({ length: 8 }, () => ({ status: 200, body: `${serving.get(app)}\n` })));
    }
  }

  test('server SIGKILL and start, graceful restart, router replaced: not one failed request', async () => {
    const loads: Load[] = apps.map((app) => steadyLoad({ routerPort: server.routerPort, app, clients: 3, maxRequests: 500_000 }));
    await new Promise((resolve) => setTimeout(resolve, 300));

    await server.crash();
    // The load goes on while no server runs at all.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.restart();
    await everyAppAnswers();

    await server.stopServer();
    await server.restart();
    await everyAppAnswers();

    const before = server.routerPid();
    const after = await server.replaceRouter();
    expect(after).not.toBe(before);
    await everyAppAnswers();

    // The new router (and its workers) follows the server: a deploy switches every one of them.
    const [first] = apps as [string];
    serving.set(first, await sources.get(first)!.commit('after the router was replaced', { 'index.html': 'new\n' }));
    expect((await sources.get(first)!.push(server.remote(first))).exitCode).toBe(0);
    await everyAppAnswers();

    const tallies = await Promise.all(loads.map((load) => load.stop()));
    for (const tally of tallies) {
      expect(tally.failures).toEqual([]);
      expect(tally.ok).toBeGreaterThan(100);
    }
  }, 180_000);

  test('a push while the server is down is refused by git, leaves nothing behind, and works once it is back', async () => {
    const [, second] = apps as [string, string];
    const source = sources.get(second)!;
    const before = await server.api<unknown[]>('GET', `/api/apps/${second}/deployments`);
    const sha = await source.commit('pushed while the server is down', { 'index.html': 'later\n' });

    await server.stopServer();
    const refused = await source.push(server.remote(second));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toMatch(/Failed to connect|Could not connect|Connection refused/);
    await everyAppAnswers();

    await server.restart();
    expect((await server.api<unknown[]>('GET', `/api/apps/${second}/deployments`)).body).toEqual(before.body);
    await everyAppAnswers();
    expect((await source.push(server.remote(second))).exitCode).toBe(0);
    serving.set(second, sha);
    await everyAppAnswers();
  }, 120_000);
});
