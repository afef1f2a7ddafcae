import { KeyedQueue } from '../../src/deploy/queue.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('KeyedQueue', () => {
  test('tasks for one key run one at a time, in submission order', async () => {
    const queue = new KeyedQueue();
    const events: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let maxRunning = 0;

    const results = gates.map((gate, i) =>
      queue.run('app', async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        events.push(`start ${i}`);
        await gate.promise;
        events.push(`end ${i}`);
        running--;
        return i * 10;
      }),
    );

    await flush();
    expect(events).toEqual(['start 0']);

    // Finishing a later task first changes nothing: task 1 has not started.
    gates[2]!.resolve();
    await flush();
    expect(events).toEqual(['start 0']);

    gates[0]!.resolve();
    await flush();
    expect(events).toEqual(['start 0', 'end 0', 'start 1']);

    gates[1]!.resolve();
    await expect(Promise.all(results)).resolves.toEqual([0, 10, 20]);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(maxRunning).toBe(1);
  });

  test('different keys run concurrently', async () => {
    const queue = new KeyedQueue();
    const started: string[] = [];
    const a = deferred<string>();
    const b = deferred<string>();

    const ra = queue.run('a', async () => {
      started.push('a');
      return a.promise;
    });
    const rb = queue.run('b', async () => {
      started.push('b');
      return b.promise;
    });
    await flush();
    expect(started).toEqual(['a', 'b']);
    expect(queue.size('a')).toBe(1);
    expect(queue.size('b')).toBe(1);

    // b can finish while a is still running.
    b.resolve('B');
    await expect(rb).resolves.toBe('B');
    expect(queue.size('b')).toBe(0);
    expect(queue.size('a')).toBe(1);

    a.resolve('A');
    await expect(ra).resolves.toBe('A');
    expect(queue.size('a')).toBe(0);
  });

  test('a rejected task does not block the next one, and its caller sees the rejection', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const events: string[] = [];

    const first = queue.run('app', async () => {
      events.push('first');
      await gate.promise;
      throw new Error('build failed');
    });
    const second = queue.run('app', async () => {
      events.push('second');
      return 'ok';
    });

    await flush();
    expect(events).toEqual(['first']);
    gate.resolve();
    await expect(first).rejects.toThrow('build failed');
    await expect(second).resolves.toBe('ok');
    expect(events).toEqual(['first', 'second']);
    expect(queue.size('app')).toBe(0);
  });

  test('a task that throws synchronously rejects its own promise only', async () => {
    const queue = new KeyedQueue();
    const first = queue.run('app', () => {
      throw new Error('sync boom');
    });
    const second = queue.run('app', async () => 42);
    await expect(first).rejects.toThrow('sync boom');
    await expect(second).resolves.toBe(42);
    expect(queue.size('app')).toBe(0);
  });

  test('size() counts running and waiting tasks and returns to 0', async () => {
    const queue = new KeyedQueue();
    expect(queue.size('app')).toBe(0);
    const gates = [deferred(), deferred(), deferred()];
    const sizesSeen: number[] = [];

    const results = gates.map((gate) =>
      queue.run('app', async () => {
        sizesSeen.push(queue.size('app'));
        await gate.promise;
      }),
    );
    expect(queue.size('app')).toBe(3);
    expect(queue.size('other')).toBe(0);

    await flush();
    gates[0]!.resolve();
    await results[0];
    expect(queue.size('app')).toBe(2);

    gates[1]!.reject(new Error('fails'));
    await expect(results[1]).rejects.toThrow('fails');
    expect(queue.size('app')).toBe(1);

    gates[2]!.resolve();
    await results[2];
    expect(queue.size('app')).toBe(0);
    // While each task ran, it and the ones behind it were counted.
    expect(sizesSeen).toEqual([3, 2, 1]);
  });

  test('a key can be used again after its queue drained', async () => {
    const queue = new KeyedQueue();
    await expect(queue.run('app', async () => 'one')).resolves.toBe('one');
    expect(queue.size('app')).toBe(0);

    const gate = deferred();
    const events: string[] = [];
    const r1 = queue.run('app', async () => {
      events.push('a');
      await gate.promise;
      events.push('a done');
    });
    const r2 = queue.run('app', async () => {
      events.push('b');
    });
    expect(queue.size('app')).toBe(2);
    await flush();
    expect(events).toEqual(['a']);
    gate.resolve();
    await Promise.all([r1, r2]);
    expect(events).toEqual(['a', 'a done', 'b']);
    expect(queue.size('app')).toBe(0);
  });

  test('a task submitted while another runs waits for it', async () => {
    const queue = new KeyedQueue();
    const gate = deferred();
    const events: string[] = [];
    const r1 = queue.run('app', async () => {
      events.push('first start');
      await gate.promise;
      events.push('first end');
    });
    await flush();
    expect(events).toEqual(['first start']);

    const r2 = queue.run('app', async () => {
      events.push('second');
    });
    await flush();
    expect(events).toEqual(['first start']);
    expect(queue.size('app')).toBe(2);

    gate.resolve();
    await Promise.all([r1, r2]);
    expect(events).toEqual(['first start', 'first end', 'second']);
  });
});
