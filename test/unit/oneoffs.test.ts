import { PassThrough } from 'node:stream';
import type { ContainerPlan } from '../../src/deploy/containers.js';
import { KEEP_FINISHED_MS, MAX_RUN_MS, OneOffs, RUN_MODE_LABEL, type OneOffDeps } from '../../src/run/oneoffs.js';
import type { AttachedOneOff, ContainerRef, ContainerSpec, ContainerStatus } from '../../src/runtime/runtime.js';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const RELEASE = { deployment: 4, image: 'slipway/my-app:4', commit: 'abc123' };

const iso = (msAgo: number): string => new Date(NOW - msAgo).toISOString();

function status(name: string, mode: string | undefined, finishedAt: string | null, startedAt: string | null = null): ContainerStatus {
  return {
    id: `id-${name}`,
    name,
    labels: { 'slipway.app': 'my-app', 'slipway.type': 'run', ...(mode ? { [RUN_MODE_LABEL]: mode } : {}) },
    state: finishedAt ? 'exited' : 'running',
    restartCount: 0,
    startedAt,
    finishedAt,
    exitCode: finishedAt ? 0 : null,
  };
}

/** Deferred exit of a fake attached one-off. */
function fakeOneOff(spec: ContainerSpec): AttachedOneOff & { end(code: number): void } {
  let end!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (end = resolve));
  return {
    container: { id: 'id', name: spec.name },
    stdin: new PassThrough(),
    output: new PassThrough({ objectMode: true }),
    exit,
    kill: async () => end(137),
    resize: async () => undefined,
    end,
  };
}

function setup(existing: ContainerStatus[] = [], runtime: Partial<OneOffDeps['runtime']> = {}) {
  const plans: ContainerPlan[] = [];
  const removed: string[] = [];
  const stopped: [string, number][] = [];
  const released: number[] = [];
  const started: ContainerSpec[] = [];
  let exitDetached!: () => void;
  const attached: ReturnType<typeof fakeOneOff>[] = [];
  let n = 0;
  let port = 31000;
  const deps: OneOffDeps = {
    store: { nextOneOff: () => ++n },
    containers: {
      spec: (plan) => {
        plans.push(plan);
        const labels = { 'slipway.container': plan.label };
        return { name: plan.name!, image: plan.image, command: plan.command, env: { CONTAINER: plan.label }, labels, stdin: plan.stdin };
      },
    },
    ports: { allocate: async () => ++port, release: (p) => void released.push(p) },
    runtime: {
      describeContainers: async () => existing,
      stopAndRemove: async (c: ContainerRef) => void removed.push(c.name),
      stop: async (c: ContainerRef, graceMs: number) => void stopped.push([c.name, graceMs]),
      startContainer: async (spec) => {
        started.push(spec);
        return { id: 'detached-id', name: spec.name };
      },
      waitForExit: () => new Promise<number>((resolve) => (exitDetached = () => resolve(0))),
      attachOneOff: async (spec) => {
        started.push(spec);
        const one = fakeOneOff(spec);
        attached.push(one);
        return one;
      },
      ...runtime,
    },
    stopGraceMs: 5000,
    now: () => NOW,
  };
  return { oneOffs: new OneOffs(deps), plans, removed, stopped, released, started, attached, exitDetached: () => exitDetached() };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('OneOffs', () => {
  test('a run is one-off-<n> of the current release, with its own port and name, stdin open when attached', async () => {
    const { oneOffs, plans, started } = setup();
    const first = await oneOffs.attach('my-app', RELEASE, { command: 'cat' });
    const second = await oneOffs.detach('my-app', RELEASE, { command: 'sleep 1' });
    expect(first.name).toBe('one-off-1');
    expect(second).toEqual({ name: 'one-off-2', container: 'slipway-my-app-run-2' });
    expect(plans).toEqual([
      expect.objectContaining({
        ...{ app: 'my-app', deployment: 4, image: 'slipway/my-app:4', commit: 'abc123', command: 'cat', type: 'run', role: 'oneoff' },
        ...{ label: 'one-off-1', port: 31001, name: 'slipway-my-app-run-1', stdin: true },
      }),
      expect.objectContaining({ command: 'sleep 1', label: 'one-off-2', port: 31002, name: 'slipway-my-app-run-2', stdin: false }),
    ]);
    expect(started.map((s) => s.labels[RUN_MODE_LABEL])).toEqual(['attached', 'detached']);
  });

  test("a run from a terminal gets one, of the client's size when known, and the client's TERM unless the run sets its own", async () => {
    const { oneOffs, plans } = setup();
    await oneOffs.attach('my-app', RELEASE, { command: 'bash', terminal: { term: 'xterm-256color', size: { rows: 40, cols: 100 } } });
    await oneOffs.attach('my-app', RELEASE, { command: 'bash', terminal: { term: 'xterm' }, env: { TERM: 'mine', DEBUG: '1' } });
    await oneOffs.attach('my-app', RELEASE, { command: 'cat' });
    expect(plans.map((p) => [p.tty, p.extraEnv])).toEqual([
      [{ size: { rows: 40, cols: 100 } }, { TERM: 'xterm-256color' }],
      [{}, { TERM: 'mine', DEBUG: '1' }],
      [undefined, undefined],
    ]);
  });

  test('ports go back when the one-off ends', async () => {
    const { oneOffs, released, attached, exitDetached } = setup();
    await oneOffs.attach('my-app', RELEASE, { command: 'cat' });
    await oneOffs.detach('my-app', RELEASE, { command: 'sleep 1' });
    expect(released).toEqual([]);
    attached[0]!.end(0);
    await flush();
    expect(released).toEqual([31001]);
    exitDetached();
    await flush();
    expect(released).toEqual([31001, 31002]);
  });

  test('sweeping removes detached one-offs that ended over an hour ago and attached ones nobody is connected to', async () => {
    const { oneOffs, removed, stopped } = setup([
      status('old-detached', 'detached', iso(KEEP_FINISHED_MS + 1000)),
      status('recent-detached', 'detached', iso(KEEP_FINISHED_MS - 1000)),
      status('running-detached', 'detached', null, iso(1000)),
      status('orphan-attached', 'attached', null, iso(1000)),
    ]);
    expect(await oneOffs.sweep('my-app')).toEqual([
      { name: 'old-detached', container: 'old-detached', reason: 'expired' },
      { name: 'orphan-attached', container: 'orphan-attached', reason: 'orphaned' },
    ]);
    expect(removed).toEqual(['old-detached', 'orphan-attached']);
    expect(stopped).toEqual([]);
  });

  test('sweeping stops, and keeps, detached one-offs that ran longer than the run timeout (24 h by default)', async () => {
    const existing = [status('long-detached', 'detached', null, iso(MAX_RUN_MS + 1000)), status('young-detached', 'detached', null, iso(MAX_RUN_MS - 1000))];
    const { oneOffs, removed, stopped } = setup(existing);
    expect(await oneOffs.sweep('my-app')).toEqual([{ name: 'long-detached', container: 'long-detached', reason: 'timed-out' }]);
    expect(stopped).toEqual([['long-detached', 5000]]);
    expect(removed).toEqual([]);
  });

  test("sweeping every app tells the server's log what it did, in words, and a failure as a warning", async () => {
    const { oneOffs } = setup([
      status('old-detached', 'detached', iso(KEEP_FINISHED_MS + 1000)),
      status('orphan-attached', 'attached', null, iso(1000)),
      status('long-detached', 'detached', null, iso(MAX_RUN_MS + 1000)),
    ]);
    const lines: string[] = [];
    oneOffs.sweepApps(['my-app'], (line) => lines.push(line));
    await flush();
    expect(lines).toEqual([
      'my-app: removed old-detached (old-detached), a detached one-off that ended over an hour ago',
      'my-app: removed orphan-attached, a one-off whose client left with the previous server',
      'my-app: stopped long-detached (long-detached), a detached one-off that ran longer than 86400 s (timeouts.run); its logs stay for an hour',
    ]);
    const { oneOffs: failing } = setup([], { describeContainers: () => Promise.reject(new Error('engine away')) });
    const warnings: string[] = [];
    failing.sweepApps(['a', 'b'], (line) => warnings.push(line));
    await flush();
    expect(warnings).toEqual(["warning: could not sweep a's one-offs: Error: engine away", "warning: could not sweep b's one-offs: Error: engine away"]);
  });

  test('the server sweeps every 5 minutes, or every quarter of a shorter run timeout (at least every second)', () => {
    const unused = (): never => {
      throw new Error('not used by sweepEveryMs');
    };
    const every = (maxRunMs?: number): number =>
      new OneOffs({
        store: { nextOneOff: unused },
        containers: { spec: unused },
        ports: { allocate: unused, release: unused },
        runtime: { attachOneOff: unused, startContainer: unused, waitForExit: unused, describeContainers: unused, stop: unused, stopAndRemove: unused },
        ...(maxRunMs === undefined ? {} : { maxRunMs }),
      }).sweepEveryMs;
    expect(every()).toBe(5 * 60 * 1000);
    expect(every(8000)).toBe(2000);
    expect(every(100)).toBe(1000);
  });

  test('an attached one-off of this server is never swept while it runs', async () => {
    const existing: ContainerStatus[] = [];
    const { oneOffs, removed, attached } = setup(existing);
    const run = await oneOffs.attach('my-app', RELEASE, { command: 'cat' });
    existing.push(status(run.oneOff.container.name, 'attached', null));
    expect(await oneOffs.sweep('my-app')).toEqual([]);
    attached[0]!.end(0);
    await flush();
    expect(await oneOffs.sweep('my-app')).toEqual([{ name: 'slipway-my-app-run-1', container: 'slipway-my-app-run-1', reason: 'orphaned' }]);
    expect(removed).toEqual(['slipway-my-app-run-1']);
  });

  test('a one-off that fails to start gives its port back', async () => {
    const { oneOffs: failing, released } = setup([], {
      attachOneOff: async () => Promise.reject(new Error('no such image')),
      startContainer: async () => Promise.reject(new Error('no such image')),
    });
    await expect(failing.attach('my-app', RELEASE, { command: 'cat' })).rejects.toThrow('no such image');
    await expect(failing.detach('my-app', RELEASE, { command: 'cat' })).rejects.toThrow('no such image');
    expect(released).toEqual([31001, 31002]);
  });
});
