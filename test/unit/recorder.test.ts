import { DeployLog } from '../../src/deploy/log.js';
import { recordOutput } from '../../src/deploy/recorder.js';
import type { Store } from '../../src/store/store.js';

/** A stand-in for the store that keeps what recordOutput appends, batch by batch. */
function fakeStore(): { store: Store; batches: string[][] } {
  const batches: string[][] = [];
  const store = { appendOutput: (_app: string, _id: number, lines: readonly string[]) => batches.push([...lines]) } as unknown as Store;
  return { store, batches };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the first line after a quiet moment is stored at once; the rest of that turn in one batch', async () => {
  const { store, batches } = fakeStore();
  const log = new DeployLog();
  recordOutput(store, 'a', 1, log);
  log.phase('Building');
  expect(batches).toEqual([['-----> Building']]);
  log.detail('one');
  log.detail('two');
  await nextTurn();
  expect(batches).toEqual([['-----> Building'], ['       one', '       two']]);
  await nextTurn();
  log.detail('three');
  expect(batches).toEqual([['-----> Building'], ['       one', '       two'], ['       three']]);
});

test('the recorder stores a line before later subscribers see it', () => {
  const { store, batches } = fakeStore();
  const log = new DeployLog();
  recordOutput(store, 'a', 1, log);
  const storedWhenSeen: number[] = [];
  log.onLine(() => storedWhenSeen.push(batches.flat().length));
  log.detail('seen');
  expect(storedWhenSeen).toEqual([1]);
});

test('past the limit, output lines are counted, not stored; Slipway lines are always kept', async () => {
  const { store, batches } = fakeStore();
  const log = new DeployLog();
  recordOutput(store, 'a', 1, log, 40);
  log.detail('0123456789'); // 17 characters with the indent
  log.detail('0123456789');
  log.detail('0123456789'); // over 40: not stored
  log.detail('0123456789'); // not stored
  log.error('The postdeploy command failed with exit code 1');
  log.detail('0123456789'); // not stored
  log.end();
  const stored = batches.flat();
  expect(stored).toEqual([
    '       0123456789',
    '       0123456789',
    '       ... 2 lines of output not stored: a deployment keeps its first 0.00003814697265625 MB',
    ' !     The postdeploy command failed with exit code 1',
    '       ... 1 lines of output not stored: a deployment keeps its first 0.00003814697265625 MB',
  ]);
});

test('the returned function stops recording and flushes what is pending', () => {
  const { store, batches } = fakeStore();
  const log = new DeployLog();
  const stop = recordOutput(store, 'a', 1, log);
  log.detail('kept');
  stop();
  log.detail('after stop');
  expect(batches.flat()).toEqual(['       kept']);
});
