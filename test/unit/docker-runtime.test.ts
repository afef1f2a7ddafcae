import Docker from 'dockerode';
import os from 'node:os';
import path from 'node:path';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { RuntimeUnavailableError, type ContainerSpec, type Runtime } from '../../src/runtime/runtime.js';

const ref = { id: 'c0ffee', name: 'slipway-my-app-1-web-1' };
const spec: ContainerSpec = { name: 'slipway-my-app-1-web-1', image: 'slipway/my-app:1', command: 'true', env: {}, labels: {} };

/** What one engine answers without asking it (a swarm's registry and placement), tested below. */
type EngineFree = 'registry' | 'pushImage' | 'placementOf';

/**
 * One call of every engine-facing method of the Runtime interface. Typed by the interface, so a
 * method added to it must be added here (or to EngineFree), and is then checked like the others.
 */
const CALLS: { [K in Exclude<keyof Runtime, 'watch' | EngineFree>]: (runtime: Runtime) => Promise<unknown> } = {
  ping: (r) => r.ping(),
  imageExists: (r) => r.imageExists('slipway/my-app:1'),
  imageInfo: (r) => r.imageInfo('slipway/my-app:1'),
  buildImage: (r) => r.buildImage({ context: Buffer.alloc(0), tag: 'slipway/my-app:1', dockerfile: 'Dockerfile', labels: {}, buildArgs: {} }, () => undefined),
  removeImage: (r) => r.removeImage('slipway/my-app:1'),
  startContainer: (r) => r.startContainer(spec),
  waitForExit: (r) => r.waitForExit(ref),
  tailLogs: (r) => r.tailLogs(ref, 10),
  readLogs: (r) => r.readLogs(ref, { follow: false }, () => undefined, new AbortController().signal),
  runOneOff: (r) => r.runOneOff(spec, () => undefined, 1000),
  attachOneOff: (r) => r.attachOneOff(spec),
  stop: (r) => r.stop(ref, 1000),
  stopAndRemove: (r) => r.stopAndRemove(ref, 1000),
  listContainers: (r) => r.listContainers({ 'slipway.app': 'my-app' }),
  describeContainers: (r) => r.describeContainers({ 'slipway.app': 'my-app' }),
  containerStats: (r) => r.containerStats(ref),
  nodes: (r) => r.nodes(),
};

/**
 * A stand-in for dockerode's client whose every request fails with `error`: each method (of the
 * client, and of the container and image handles it gives out) returns a rejected promise that
 * is itself such a stand-in, so `getContainer(id).start()` fails the same way as `ping()`.
 */
function failingClient(error: () => unknown): Docker {
  const handle = (): unknown =>
    new Proxy(() => undefined, {
      get: () => handle(),
      apply: () => {
        const failed = Promise.reject(error());
        failed.catch(() => undefined);
        return new Proxy(failed, {
          get: (target, key) => (key === 'then' || key === 'catch' || key === 'finally' ? target[key].bind(target) : handle()),
        });
      },
    });
  return handle() as Docker;
}

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
}

describe('DockerRuntime: an unreachable engine is reported the same way by every method', () => {
  test.each(Object.keys(CALLS) as (keyof typeof CALLS)[])('%s (injected client refusing every connection)', async (name) => {
    const runtime = new DockerRuntime(failingClient(refused));
    const error = await CALLS[name](runtime).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect((error as Error).message).toBe(
      'The Docker engine does not answer (connect ECONNREFUSED /var/run/docker.sock); start it (bash scripts/setup) and push again',
    );
  });

  test.each(Object.keys(CALLS) as (keyof typeof CALLS)[])('%s (the real client, at a socket that does not exist)', async (name) => {
    const socketPath = path.join(os.tmpdir(), `slipway-no-engine-${process.pid}.sock`);
    const runtime = new DockerRuntime(new Docker({ socketPath }));
    const error = await CALLS[name](runtime).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect((error as Error).message).toContain(socketPath);
  });

  test('the engine\'s own answers pass as they are (a 500 is not "does not answer")', async () => {
    const engineError = Object.assign(new Error('(HTTP code 500) server error - no space left on device'), { statusCode: 500 });
    const runtime = new DockerRuntime(failingClient(() => engineError));
    await expect(runtime.startContainer(spec)).rejects.toBe(engineError);
    await expect(runtime.listContainers({})).rejects.toBe(engineError);
    // ping asks whether the engine is usable: any failure is "unavailable".
    await expect(runtime.ping()).rejects.toBeInstanceOf(RuntimeUnavailableError);
  });

  test('answers that mean "nothing there" stay answers', async () => {
    const missing = (): Error => Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 });
    const runtime = new DockerRuntime(failingClient(missing));
    await expect(runtime.imageExists('slipway/my-app:1')).resolves.toBe(false);
    await expect(runtime.removeImage('slipway/my-app:1')).resolves.toBeUndefined();
    await expect(runtime.stopAndRemove(ref, 1000)).resolves.toBeUndefined();
    await expect(runtime.readLogs(ref, { follow: false }, () => undefined, new AbortController().signal)).resolves.toBeUndefined();
  });

  test('one engine has no registry: pushing is refused in a sentence, and every container is on loopback', async () => {
    const runtime: Runtime = new DockerRuntime(failingClient(refused));
    expect(runtime.registry).toBeNull();
    await expect(runtime.pushImage('slipway/my-app:1')).rejects.toThrow('there is no registry to push to');
    await expect(runtime.placementOf(ref, new AbortController().signal)).resolves.toEqual({ host: '127.0.0.1' });
  });

  test('watch keeps trying while the engine is away, and stops when asked', async () => {
    let attempts = 0;
    const runtime = new DockerRuntime(
      failingClient(() => {
        attempts++;
        return refused();
      }),
    );
    const stop = runtime.watch({}, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop();
    expect(attempts).toBeGreaterThanOrEqual(1);
  });
});
