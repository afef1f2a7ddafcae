import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Deployer, DeployerClosedError, DeployRefused } from '../../src/deploy/deployer.js';
import type { DeployJob, Pipeline } from '../../src/deploy/pipeline.js';
import { KeyedQueue, listed } from '../../src/deploy/queue.js';
import type { FinalStatus } from '../../src/deploy/status.js';
import { Store } from '../../src/store/store.js';

/** A pipeline whose runs end when the test says, and see the abort signal. */
class FakePipeline {
  readonly jobs: DeployJob[] = [];
  private readonly ends: ((status: FinalStatus) => void)[] = [];

  run(job: DeployJob): Promise<FinalStatus> {
    this.jobs.push(job);
    return new Promise((resolve) => {
      this.ends.push(resolve);
      job.signal?.addEventListener('abort', () => resolve('aborted'));
    });
  }

  finish(status: FinalStatus = 'success'): void {
    this.ends.shift()?.(status);
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

let dir: string;
let store: Store;
let pipeline: FakePipeline;
let deployer: Deployer;
const errors: unknown[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-deployer-'));
  store = new Store(path.join(dir, 'db'));
  pipeline = new FakePipeline();
  // The fake stands in for the class: the deployer calls only run().
  deployer = new Deployer(store, pipeline as unknown as Pipeline, (error) => errors.push(error));
  errors.length = 0;
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = (commit: string) => ({ app: 'a', gitDir: '/x', ref: 'refs/heads/main', commit, pushedBy: null });

test('listed joins what waits in order', () => {
  expect([listed([]), listed(['deployment 1']), listed(['deployment 1', 'a scale']), listed(['d 1', 'd 2', 'apps:destroy'])]).toEqual([
    '',
    'deployment 1',
    'deployment 1 and a scale',
    'd 1, d 2 and apps:destroy',
  ]);
  const queue = new KeyedQueue();
  void queue.run('a', () => new Promise(() => undefined), 'deployment 1');
  void queue.run('a', async () => undefined, 'a restart');
  expect(queue.pending('a')).toEqual(['deployment 1', 'a restart']);
});

test('a queued deployment says what it waits behind, and a change waiting behind it says so', async () => {
  const lines: string[] = [];
  deployer.deploy(request('c1'));
  deployer.deploy(request('c2'), (line) => lines.push(line));
  expect(lines).toEqual(['-----> Deployment 2 is queued behind deployment 1 of a']);
  const waits: string[] = [];
  void deployer.exclusive('a', 'a scale', async () => undefined, { phase: (t: string) => waits.push(t) } as never);
  expect(waits).toEqual(['Waiting for deployment 1 and deployment 2 of a to finish']);
  await flush();
  pipeline.finish();
  await flush();
  pipeline.finish();
  await deployer.idle();
});

test('the bookkeeping is released when the app was deleted under a deployment (the store throws)', async () => {
  const started = deployer.deploy(request('c1'));
  await flush();
  store.deleteApp('a');
  started.log.phase('a line for an app that is gone');
  pipeline.finish();
  expect(await started.done).toBe('success');
  await deployer.idle();
  expect(deployer.liveLog('a', 1)).toBeUndefined();
  expect(String(errors[0])).toContain('FOREIGN KEY constraint failed');
});

test('a refusal at its turn ends the deployment aborted, with its sentence, and nothing runs', async () => {
  const lines: string[] = [];
  const started = deployer.deploy(
    {
      ...request('c1'),
      admit: async () => {
        throw new DeployRefused('main moved; fetch first', 'fetch first');
      },
    },
    (line) => lines.push(line),
  );
  expect(await started.done).toBe('aborted');
  expect(pipeline.jobs).toEqual([]);
  expect(lines).toContain(' !     main moved; fetch first');
  expect(store.getDeployment('a', 1)).toMatchObject({ status: 'aborted', reason: 'main moved; fetch first' });
});

test('stop: new deployments are refused, queued ones end aborted unrun, the running one gets the grace and then is aborted', async () => {
  const running = deployer.deploy(request('c1'));
  const queuedLines: string[] = [];
  const queued = deployer.deploy(request('c2'), (line) => queuedLines.push(line));
  await flush();
  const stopped = deployer.stop(50);
  expect(() => deployer.deploy(request('c3'))).toThrow(DeployerClosedError);
  await expect(deployer.exclusive('a', 'a scale', async () => 1)).rejects.toThrow('The server is stopping; push again once it is back');
  await stopped;
  expect(await running.done).toBe('aborted');
  expect(await queued.done).toBe('aborted');
  expect(pipeline.jobs.map((j) => j.deployment.id)).toEqual([1]);
  expect(queuedLines).toContain(' !     The server is stopping; push again once it is back; deployment 2 was not run');
});

test('closeApp runs after what runs now; meanwhile pushes are refused and queued ones end aborted', async () => {
  const running = deployer.deploy(request('c1'));
  const queued = deployer.deploy(request('c2'));
  await flush();
  const events: string[] = [];
  const closing = deployer.closeApp('a', 'a is being destroyed', async () => {
    events.push('destroyed');
    return 'ok';
  });
  expect(() => deployer.deploy(request('c3'))).toThrow('a is being destroyed');
  pipeline.finish();
  expect(await running.done).toBe('success');
  expect(await queued.done).toBe('aborted');
  expect(await closing).toBe('ok');
  expect(events).toEqual(['destroyed']);
  expect(deployer.closedFor('a')).toBeUndefined();
});
