import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Deployer } from '../../src/deploy/deployer.js';
import type { DeployLog } from '../../src/deploy/log.js';
import type { Pipeline } from '../../src/deploy/pipeline.js';
import { Store } from '../../src/store/store.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-deployer-'));
  store = new Store(path.join(dir, 'slipway.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("watchers hear of a deployment's start, each of its phase lines (not its output) and its end, and of queued tasks' ends", async () => {
  const pipeline = {
    async run(_job: unknown, log: DeployLog) {
      log.phase('Building image');
      log.detail('output of the build');
      log.error('it failed');
      return 'build-error' as const;
    },
  } as unknown as Pipeline;
  const deployer = new Deployer(store, pipeline);
  const heard: string[] = [];
  const stop = deployer.onChange((app) => heard.push(app));

  await deployer.deploy({ app: 'shop', gitDir: dir, ref: 'refs/heads/main', commit: 'a'.repeat(40), pushedBy: 'admin' }).done;
  expect(heard).toEqual(['shop', 'shop', 'shop', 'shop']);

  await deployer.exclusive('blog', 'a scale', async () => 'scaled');
  await expect(deployer.exclusive('blog', 'a scale', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
  await new Promise((resolve) => setImmediate(resolve));
  expect(heard.slice(4)).toEqual(['blog', 'blog']);

  stop();
  await deployer.exclusive('blog', 'a scale', async () => 'again');
  await new Promise((resolve) => setImmediate(resolve));
  expect(heard).toHaveLength(6);
});
