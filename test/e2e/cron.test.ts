import type { CronJson } from '../../src/cli/commands/cron.js';
import { busyboxApp, WEB } from '../support/fixtures.js';
import { ServerSuite, type CliRunner, type TestServer } from '../support/server.js';

const APP = 'cron-app';

const suite = new ServerSuite([APP]);
let server: TestServer;
let slipway: CliRunner;

beforeAll(async () => {
  // Six-field schedules (seconds first) keep the test short; runs are stopped after 4 s.
  ({ server, slipway } = await suite.start({ env: { SLIPWAY_CRON_SECONDS: '1', SLIPWAY_CRON_TIMEOUT: '4' } }));
}, 60_000);

afterAll(() => suite.stop(), 60_000);

async function cron(): Promise<CronJson> {
  return (await server.api<CronJson>('GET', `/api/apps/${APP}/cron`)).body;
}

/** Polls `slipway cron` (bounded by the test's timeout) until `done` holds. */
async function until(done: (c: CronJson) => boolean): Promise<CronJson> {
  for (;;) {
    const c = await cron();
    if (done(c)) return c;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('cron.json jobs run in one-off containers of the release, skip an overlap, stop at the timeout, and show in logs and slipway cron', async () => {
  const jobs = {
    jobs: [
      // Every 2 s, runs 3 s: each run is still going at the next time, which is skipped.
      { command: '*/2 * * * * * echo "tick $CONTAINER $APP"; sleep 3' },
      // Outlives the 4 s timeout.
      { command: '*/5 * * * * * sleep 60' },
    ],
  };
  const app = suite.app(busyboxApp({ web: WEB }, { 'cron.json': JSON.stringify(jobs) }));
  await app.commit('with cron jobs');
  const push = await app.push(server.remote(APP));
  expect(push.exitCode).toBe(0);
  expect(push.remote).toContain('cron.json: 2 jobs; "*/2 * * * * *" echo "tick $CONTAINER $APP"; sleep 3; "*/5 * * * * *" sleep 60 (UTC)');

  const ran = await until((c) => c.jobs[0]?.lastRun?.status === 'succeeded' && c.jobs[0].skips > 0 && c.jobs[1]?.lastRun?.status === 'timed-out');
  expect(ran.deployment).toBe(1);
  expect(ran.jobs[0]).toMatchObject({ schedule: '*/2 * * * * *', command: 'echo "tick $CONTAINER $APP"; sleep 3', lastRun: { exitCode: 0 } });
  expect(ran.jobs[0]!.lastRun!.container).toMatch(/^cron-\d+$/);
  expect(ran.jobs[0]!.lastRun!.durationSeconds).toBeGreaterThanOrEqual(3);
  expect(Date.parse(ran.jobs[0]!.nextRun!)).toBeGreaterThan(Date.now() - 2000);
  expect(server.output()).toMatch(/cron-app: cron job "\*\/2 \* \* \* \* \* echo .*" skipped at .*: its run cron-\d+ .* is still going/);
  expect(server.output()).toMatch(/cron-app: cron-\d+ \("\*\/5 \* \* \* \* \* sleep 60"\) ran longer than 4 s \(timeouts.cron\) and is stopped/);

  const logs = await slipway(['logs', '--type', 'cron', '-a', APP]);
  expect(logs.exitCode).toBe(0);
  expect(logs.stdout).toMatch(/cron-\d+.*tick cron-\d+ cron-app/);
  expect(logs.stdout).not.toContain('web-1');

  const table = await slipway(['cron', '-a', APP]);
  expect(table.exitCode).toBe(0);
  expect(table.stdout).toMatch(/^SCHEDULE\s+COMMAND\s+LAST RUN\s+EXIT\s+DURATION\s+RUNNING\s+NEXT RUN\s+SKIPPED$/m);
  expect(table.stdout).toMatch(/\*\/5 \* \* \* \* \*\s+sleep 60\s+.*timed out/);

  // A bad cron.json fails the build naming the job, and the running jobs stay those of deployment 1.
  await app.commit('bad schedule', { 'cron.json': JSON.stringify({ jobs: [{ command: '* * * * * * true' }, { command: '61 * * * * * echo x' }] }) });
  const bad = await app.push(server.remote(APP));
  expect(bad.exitCode).not.toBe(0);
  expect(bad.output).toContain('(build-error)');
  expect(bad.remote.join('\n')).toMatch(/cron\.json job 2 \("61 \* \* \* \* \* echo x"\): the schedule "61 \* \* \* \* \*" is not valid/);
  const after = await cron();
  expect(after.deployment).toBe(1);
  expect(after.jobs.map((j) => j.schedule)).toEqual(['*/2 * * * * *', '*/5 * * * * *']);
}, 120_000);
