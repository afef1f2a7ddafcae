import { relocated } from '../../src/deploy/relocation.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  cleanupImage,
  cleanupSpec,
  containerState,
  currentTask,
  deleteManifest,
  manifestDigest,
  digestIn,
  exitCodeOf,
  nodeAddress,
  nodeInfo,
  nodeWithImage,
  pinnedImage,
  repositoryOf,
  restarts,
  serviceSpec,
  type SwarmNode,
  type SwarmTask,
} from '../../src/runtime/swarm-spec.js';
import type { ContainerSpec } from '../../src/runtime/runtime.js';

function task(id: string, created: string, state: string, desired = 'running', exitCode?: number): SwarmTask {
  return {
    ID: id,
    ServiceID: 'svc',
    NodeID: 'n1',
    CreatedAt: created,
    DesiredState: desired,
    Status: { Timestamp: created, State: state, ...(exitCode === undefined ? {} : { ContainerStatus: { ExitCode: exitCode } }) },
  };
}

const spec: ContainerSpec = {
  name: 'slipway-app-3-web-1',
  image: 'slipway/app:3',
  command: 'exec httpd -f -p $PORT',
  env: { PORT: '21000', SECRET: 'x' },
  labels: { 'slipway.app': 'app', 'slipway.container': 'web-1' },
  limits: { memoryMb: 256, cpus: 0.5 },
  mounts: [],
  restart: true,
};

describe('serviceSpec', () => {
  test('one task on the host network, run through sh -c, restarted by Swarm, limits and labels on the service', () => {
    const s = serviceSpec(spec, { image: '10.0.0.1:5000/slipway/app:3', stopGraceMs: 30_000 });
    expect(s.Name).toBe('slipway-app-3-web-1');
    expect(s.Labels).toEqual(spec.labels);
    expect(s.Mode).toEqual({ Replicated: { Replicas: 1 } });
    const t = s.TaskTemplate as { ContainerSpec: Record<string, unknown>; Networks: unknown; RestartPolicy: unknown; Resources: unknown; Placement?: unknown };
    expect(t.ContainerSpec).toMatchObject({
      Image: '10.0.0.1:5000/slipway/app:3',
      Command: ['/bin/sh', '-c'],
      Args: ['exec httpd -f -p $PORT'],
      Env: ['PORT=21000', 'SECRET=x'],
      Init: true,
      CapabilityDrop: ['ALL'],
      StopGracePeriod: 30_000_000_000,
    });
    expect(t.ContainerSpec.Labels).toBeUndefined();
    expect(t.Networks).toEqual([{ Target: 'host' }]);
    expect(t.RestartPolicy).toEqual({ Condition: 'any', Delay: 1e9, MaxAttempts: 0 });
    expect(t.Resources).toEqual({ Limits: { MemoryBytes: 256 * 1024 * 1024, NanoCPUs: 500_000_000 } });
    expect(t.Placement).toBeUndefined();
  });

  test('a one-off is one task that is never restarted, and storage pins it to the given node', () => {
    const s = serviceSpec(
      { ...spec, restart: false, mounts: [{ source: '/data/volumes/app/%2Fdata', target: '/data' }] },
      { image: 'r/slipway/app:3', stopGraceMs: 1000, pinTo: 'node-id-1' },
    );
    expect(s.Mode).toEqual({ Replicated: { Replicas: 1 } });
    const t = s.TaskTemplate as { ContainerSpec: Record<string, unknown>; RestartPolicy: unknown; Placement?: unknown };
    expect(t.RestartPolicy).toEqual({ Condition: 'none' });
    expect(t.Placement).toEqual({ Constraints: ['node.id==node-id-1'] });
    expect(t.ContainerSpec.Mounts).toEqual([{ Type: 'bind', Source: '/data/volumes/app/%2Fdata', Target: '/data' }]);
  });
});

describe('tasks as containers', () => {
  test('the current task is the newest Swarm wants running; its state in Docker words', () => {
    const failed = task('a', '2026-01-01T00:00:01Z', 'failed', 'shutdown', 3);
    const starting = task('b', '2026-01-01T00:00:05Z', 'starting');
    expect(currentTask([failed, starting])).toBe(starting);
    expect(containerState(starting, [failed, starting])).toBe('restarting');
    expect(containerState(starting, [starting])).toBe('created');
    expect(containerState(task('c', '2026-01-01T00:00:06Z', 'running'), [failed])).toBe('running');
    expect(containerState(failed, [failed])).toBe('exited');
    expect(containerState(undefined, [])).toBe('created');
    expect(restarts([failed, starting])).toBe(1);
    expect(exitCodeOf(failed)).toBe(3);
    expect(exitCodeOf(task('d', '2026-01-01T00:00:01Z', 'rejected', 'shutdown'))).toBe(125);
  });

  test("a node's address: its status address, or its manager address when that says 0.0.0.0", () => {
    expect(nodeAddress({ ID: 'x', Spec: {}, Status: { Addr: '10.0.0.12' } })).toBe('10.0.0.12');
    expect(nodeAddress({ ID: 'x', Spec: {}, Status: { Addr: '0.0.0.0' }, ManagerStatus: { Addr: '10.0.0.11:2377' } })).toBe('10.0.0.11');
    expect(
      nodeInfo(
        { ID: 'x', Description: { Hostname: 'n2' }, Spec: { Role: 'worker', Availability: 'drain' }, Status: { State: 'down', Addr: '10.0.0.12' } },
        'm',
      ),
    ).toEqual({ name: 'n2', address: '10.0.0.12', role: 'worker', state: 'down', availability: 'drain', local: false });
  });
});

describe('relocated', () => {
  const targets = [
    { host: '10.0.0.12', port: 21001, container: 'slipway-app-3-web-1' },
    { host: '10.0.0.13', port: 21002, container: 'slipway-app-3-web-2' },
  ];

  test('a routed container that moved gets its new host; nothing else changes', () => {
    expect(relocated(targets, { container: 'slipway-app-3-web-2', host: '10.0.0.11' })).toEqual([
      targets[0],
      { host: '10.0.0.11', port: 21002, container: 'slipway-app-3-web-2' },
    ]);
  });

  test('an unrouted container, or one on the same node, changes nothing', () => {
    expect(relocated(targets, { container: 'slipway-app-2-web-1', host: '10.0.0.11' })).toBeUndefined();
    expect(relocated(targets, { container: 'slipway-app-3-web-1', host: '10.0.0.12' })).toBeUndefined();
  });
});

describe('images on the nodes and in the registry', () => {
  const R = '10.0.0.1:5000';
  const node = (id: string, state = 'ready', availability = 'active'): SwarmNode => ({
    ID: id,
    Spec: { Availability: availability },
    Status: { State: state },
  });
  const running = (id: string, nodeId: string, image: string, state = 'running'): SwarmTask => ({
    ...task(id, '2026-01-01T00:00:00Z', state),
    NodeID: nodeId,
    Spec: { ContainerSpec: { Image: image } },
  });

  test('a pushed image is pinned to its digest, found again among repo digests, and named without tag', () => {
    expect(pinnedImage(`${R}/slipway/app:3`, 'sha256:abc')).toBe(`${R}/slipway/app:3@sha256:abc`);
    expect(digestIn([`other/x@sha256:1`, `${R}/slipway/app@sha256:abc`], `${R}/slipway/app:3`)).toBe('sha256:abc');
    expect(digestIn([`${R}/slipway/apple@sha256:1`], `${R}/slipway/app:3`)).toBeUndefined();
    expect(repositoryOf(`${R}/slipway/app:3@sha256:abc`)).toBe(`${R}/slipway/app`);
    expect(repositoryOf(`${R}/slipway/app`)).toBe(`${R}/slipway/app`);
  });

  test('a one-off goes beside a task of its image on a node that takes tasks, else anywhere', () => {
    const image = `${R}/slipway/app:3@sha256:abc`;
    const nodes = new Map([
      ['n1', node('n1')],
      ['n2', node('n2', 'down')],
      ['n3', node('n3', 'ready', 'drain')],
      ['n4', node('n4')],
    ]);
    expect(nodeWithImage([running('a', 'n2', image), running('b', 'n3', image), running('c', 'n4', image, 'starting')], nodes, image)).toBe('n4');
    expect(nodeWithImage([running('a', 'n1', `${R}/slipway/app:2@sha256:old`), running('b', 'n4', image, 'shutdown')], nodes, image)).toBeUndefined();
  });

  test('a node cleanup runs an image of the same app that runs now, never the one it removes', () => {
    const old = `${R}/slipway/app:2`;
    expect(cleanupImage([running('a', 'n1', `${old}@sha256:old`), running('b', 'n1', `${R}/slipway/other:9@sha256:x`)], old)).toBeUndefined();
    expect(cleanupImage([running('a', 'n1', `${old}@sha256:old`), running('b', 'n1', `${R}/slipway/app:7@sha256:new`)], old)).toBe(
      `${R}/slipway/app:7@sha256:new`,
    );
    const spec = cleanupSpec(`${R}/slipway/app:7@sha256:new`, [old, `${R}/slipway/app@sha256:old`], 'unix:///run/{{.Node.Hostname}}.sock');
    expect(spec.Mode).toEqual({ Global: {} });
    const t = spec.TaskTemplate as { ContainerSpec: Record<string, unknown>; RestartPolicy: unknown };
    expect(t.RestartPolicy).toEqual({ Condition: 'none' });
    expect(t.ContainerSpec).toMatchObject({
      User: '0',
      Env: ['DOCKER_HOST=unix:///run/{{.Node.Hostname}}.sock'],
      Mounts: [{ Type: 'bind', Source: '/', Target: '/host', ReadOnly: true }],
      Args: [`for ref in '${old}' '${R}/slipway/app@sha256:old'; do chroot /host docker image rm "$ref" >/dev/null 2>&1 || true; done`],
    });
  });

  test("the registry's manifest is deleted by digest (found by tag when needed); one already gone is fine; a registry that forbids deletes says how to allow them", async () => {
    const seen: string[] = [];
    let answer = 202;
    let digestHeader: string | undefined;
    const registry = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(answer, digestHeader === undefined ? {} : { 'docker-content-digest': digestHeader }).end();
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
    try {
      await deleteManifest(address, `${address}/slipway/app:2`, 'sha256:old');
      // HTTPS first (refused by this plain-HTTP registry), then HTTP.
      expect(seen.at(-1)).toBe('DELETE /v2/slipway/app/manifests/sha256:old');
      answer = 404;
      await deleteManifest(address, `${address}/slipway/app:2`, 'sha256:old');
      // A tag's digest, asked of the registry when the manager no longer has the image.
      answer = 200;
      digestHeader = 'sha256:old';
      expect(await manifestDigest(address, `${address}/slipway/app:2`)).toBe('sha256:old');
      expect(seen.at(-1)).toBe('HEAD /v2/slipway/app/manifests/2');
      answer = 404;
      expect(await manifestDigest(address, `${address}/slipway/app:2`)).toBeUndefined();
      answer = 405;
      await expect(deleteManifest(address, `${address}/slipway/app:2`, 'sha256:old')).rejects.toThrow(
        `the registry ${address} does not allow deleting images: enable it`,
      );
    } finally {
      registry.close();
    }
  }, 20_000);
});
