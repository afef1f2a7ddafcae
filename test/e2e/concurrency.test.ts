import { jest } from '@jest/globals';
import { execa } from 'execa';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { getApp } from '../support/http.js';
import { ServerSuite, type TestServer } from '../support/server.js';

// Every test here pushes to many apps at once through the real server, git and Docker: each
// test and hook gets up to 5 minutes (an explicit bound, so a slow machine is not a failure).
jest.setTimeout(300_000);

const suite = new ServerSuite([]);
let server: TestServer;

beforeAll(async () => {
  ({ server } = await suite.start());
});

afterAll(() => suite.stop());

interface DeploymentJson {
  id: number;
  status: string;
  commit: string;
}

test('10 pushes to one app at once deploy one at a time, and all end with a status', async () => {
  suite.owns('busy-app');
  const clones = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const clone = suite.app(busyboxApp({ web: WEB, postdeploy: `echo "hook of push ${i}"` }, { 'index.html': `push ${i}\n` }));
      return { clone, sha: await clone.commit(`push ${i}`) };
    }),
  );
  // A first release, which every push below then sees as the branch's commit.
  const base = suite.app(busyboxApp({ web: WEB }));
  await base.commit('base');
  expect((await base.push(server.remote('busy-app'))).exitCode).toBe(0);
  // Unrelated histories: each is a force push (it does not contain the commit it saw), so each
  // deploys over the one before it, and says it rewinds the branch.
  const results = await Promise.all(clones.map(({ clone }) => clone.push(server.remote('busy-app'), 'main', { args: ['--force'] })));
  // Each failure shows what git printed.
  expect(results.filter((r) => r.exitCode !== 0).map((r) => r.output)).toEqual([]);
  expect(results.filter((r) => r.remote.some((l) => l.includes('is queued'))).length).toBeGreaterThanOrEqual(8);
  expect(results.every((r) => r.remote.some((l) => l.startsWith('-----> Rewinding main from')))).toBe(true);

  const list = (await server.api<DeploymentJson[]>('GET', '/api/apps/busy-app/deployments')).body;
  expect(list.map((d) => d.id)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  expect(list.every((d) => d.status === 'success')).toBe(true);
  expect(new Set(list.slice(0, 10).map((d) => d.commit))).toEqual(new Set(clones.map((c) => c.sha)));
  // Serialised: each deployment started building only after the one before it had finished.
  for (let id = 2; id <= 11; id++) {
    const detail = await server.api<{ phases: { phase: string; startedAt: string }[] }>('GET', `/api/apps/busy-app/deployments/${id}`);
    const previous = await server.api<{ finishedAt: string }>('GET', `/api/apps/busy-app/deployments/${id - 1}`);
    const build = detail.body.phases.find((p) => p.phase === 'build')!;
    expect(Date.parse(build.startedAt)).toBeGreaterThanOrEqual(Date.parse(previous.body.finishedAt));
  }
  // The last deployment serves, and the branch names it.
  const last = list[0]!;
  expect(await getApp(server.routerPort, 'busy-app', '/version.txt')).toEqual({ status: 200, body: `${last.commit}\n` });
  const { stdout } = await execa('git', ['ls-remote', server.remote('busy-app'), 'refs/heads/main']);
  expect(stdout.split('\t')[0]).toBe(last.commit);
});

test('10 apps pushed at once all deploy', async () => {
  const pushes = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const name = `many-${i}`;
      suite.owns(name);
      const app = suite.app(busyboxApp({ web: WEB, postdeploy: 'echo ok' }));
      const sha = await app.commit(`app ${i}`);
      return { name, sha, result: await app.push(server.remote(name)) };
    }),
  );
  expect(pushes.filter((p) => p.result.exitCode !== 0).map((p) => p.result.output)).toEqual([]);
  for (const p of pushes) {
    expect(await getApp(server.routerPort, p.name, '/version.txt')).toEqual({ status: 200, body: `${p.sha}\n` });
  }
});
