import { Readable } from 'node:stream';
import { ContainerColors, formatLogLine } from '../../src/logs/format.js';
import { compareLogTimes, matchesFilter, mergeBacklog, toRecord, type LogRecord, type LogSource } from '../../src/logs/merge.js';
import { openAppLogs } from '../../src/logs/reader.js';
import { DockerDemuxer } from '../../src/runtime/demux.js';
import { DockerLogDecoder, sinceAfter, TerminalLogDecoder } from '../../src/runtime/docker-logs.js';
import type { ContainerEvent, ContainerInfo, ContainerRef, LogEntry, LogReadOptions, OutputChunk } from '../../src/runtime/runtime.js';

/** One message of a logs call, as DockerDemuxer separates them. */
function frame(kind: 1 | 2, text: string | Buffer): OutputChunk {
  return { stream: kind === 2 ? 'stderr' : 'stdout', data: typeof text === 'string' ? Buffer.from(text) : text };
}

function decode(...chunks: OutputChunk[]): LogEntry[] {
  const entries: LogEntry[] = [];
  const decoder = new DockerLogDecoder((e) => entries.push(e));
  for (const chunk of chunks) decoder.write(chunk);
  decoder.end();
  return entries;
}

/** Docker's multiplexed bytes for the messages: an 8-byte header (stream, size) before each. */
function multiplexed(...chunks: OutputChunk[]): Buffer {
  return Buffer.concat(
    chunks.flatMap(({ stream, data }) => {
      const header = Buffer.alloc(8);
      header[0] = stream === 'stderr' ? 2 : 1;
      header.writeUInt32BE(data.length, 4);
      return [header, data];
    }),
  );
}

const T1 = '2026-11-26T16:50:01.123456789Z';
const T2 = '2026-11-26T16:50:01.123456790Z';
const T3 = '2026-11-26T16:50:02.000000001Z';

describe('TerminalLogDecoder', () => {
  test('reads the time and line of each CRLF line of a terminal container, however the bytes were cut', () => {
    const bytes = Buffer.from(`${T1} one\r\n${T2} two more\r\n${T3} caf\u00e9\r\n`);
    for (const cut of [1, 10, 31, 40, bytes.length - 2]) {
      const entries: LogEntry[] = [];
      const decoder = new TerminalLogDecoder((e) => entries.push(e));
      decoder.write(frame(1, bytes.subarray(0, cut)));
      decoder.write(frame(1, bytes.subarray(cut)));
      decoder.end();
      expect(entries).toEqual([
        { time: T1, stream: 'stdout', line: 'one' },
        { time: T2, stream: 'stdout', line: 'two more' },
        { time: T3, stream: 'stdout', line: 'café' },
      ]);
    }
  });
});

describe('DockerLogDecoder', () => {
  test('reads the time, the stream and the line of each frame', () => {
    expect(decode(frame(1, `${T1} listening on 5000\n`), frame(2, `${T2} GET / 200\n`))).toEqual([
      { time: T1, stream: 'stdout', line: 'listening on 5000' },
      { time: T2, stream: 'stderr', line: 'GET / 200' },
    ]);
  });

  test('reads what DockerDemuxer separates, however the bytes were cut', async () => {
    const bytes = multiplexed(frame(1, `${T1} one\n`), frame(2, `${T2} two\n`), frame(1, `${T3} three\n`));
    for (const cut of [1, 5, 8, 20, 40, bytes.length - 1]) {
      const entries: LogEntry[] = [];
      const decoder = new DockerLogDecoder((e) => entries.push(e));
      for await (const chunk of Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]).pipe(new DockerDemuxer())) {
        decoder.write(chunk as OutputChunk);
      }
      decoder.end();
      expect(entries.map((e) => `${e.stream}:${e.line}`)).toEqual(['stdout:one', 'stderr:two', 'stdout:three']);
    }
  });

  test('a message holding several lines gives one line each, at the message time', () => {
    expect(decode(frame(1, `${T1} a\nb\r\nc\n`))).toEqual(['a', 'b', 'c'].map((line) => ({ time: T1, stream: 'stdout', line })));
  });

  test("a partial message is joined with the next one's text, at the time the line began", () => {
    expect(decode(frame(1, `${T1} first half, `), frame(1, `${T2} second half\n`), frame(1, `${T3} next\n`))).toEqual([
      { time: T1, stream: 'stdout', line: 'first half, second half' },
      { time: T3, stream: 'stdout', line: 'next' },
    ]);
  });

  test('stdout and stderr keep their own unfinished lines', () => {
    expect(decode(frame(1, `${T1} out `), frame(2, `${T2} err\n`), frame(1, `${T3} more\n`)).map((e) => `${e.stream}:${e.line}`)).toEqual([
      'stderr:err',
      'stdout:out more',
    ]);
  });

  test('an unfinished last line is emitted at the end', () => {
    expect(decode(frame(2, `${T1} no newline`))).toEqual([{ time: T1, stream: 'stderr', line: 'no newline' }]);
  });

  test('a multi-byte character split over two partial messages decodes', () => {
    const euro = Buffer.from('€');
    const first = Buffer.concat([Buffer.from(`${T1} price: `), euro.subarray(0, 1)]);
    const second = Buffer.concat([Buffer.from(`${T2} `), euro.subarray(1), Buffer.from('5\n')]);
    expect(decode(frame(1, first), frame(1, second)).map((e) => e.line)).toEqual(['price: €5']);
  });

  test('a line that looks like a timestamp after the first one is kept', () => {
    expect(decode(frame(1, `${T1} ${T2} nested\n`))[0]).toEqual({ time: T1, stream: 'stdout', line: `${T2} nested` });
  });
});

describe('sinceAfter', () => {
  test('is one nanosecond after the time, in seconds', () => {
    expect(sinceAfter('2026-11-26T16:50:01.123456789Z')).toBe(`${Date.parse('2026-11-26T16:50:01Z') / 1000}.123456790`);
    expect(sinceAfter('2026-11-26T16:50:01Z')).toBe(`${Date.parse('2026-11-26T16:50:01Z') / 1000}.000000001`);
  });

  test('carries into the next second', () => {
    expect(sinceAfter('2026-11-26T16:50:01.999999999Z')).toBe(`${Date.parse('2026-11-26T16:50:02Z') / 1000}.000000000`);
  });

  test('refuses what is not a time', () => {
    expect(() => sinceAfter('yesterday')).toThrow('is not an RFC 3339 time');
  });
});

const web: LogSource = { container: 'web-1', type: 'web', deployment: 3 };
const worker: LogSource = { container: 'worker-1', type: 'worker', deployment: 3 };
const at = (nanos: number): string => `2026-11-26T16:50:01.${String(nanos).padStart(9, '0')}Z`;
const entry = (nanos: number, line: string, stream: LogEntry['stream'] = 'stdout'): LogEntry => ({ time: at(nanos), stream, line });

describe('merging', () => {
  test('compares times to the nanosecond', () => {
    expect(compareLogTimes(at(1), at(2))).toBeLessThan(0);
    expect(compareLogTimes(at(2), at(1))).toBeGreaterThan(0);
    expect(compareLogTimes(at(5), at(5))).toBe(0);
    expect(compareLogTimes('2026-11-26T16:50:01.9Z', '2026-11-26T16:50:02.1Z')).toBeLessThan(0);
  });

  test('interleaves the containers in time order and keeps the last N overall', () => {
    const merged = mergeBacklog(
      [
        { source: web, entries: [entry(1, 'w1'), entry(4, 'w4'), entry(6, 'w6', 'stderr')] },
        { source: worker, entries: [entry(2, 'k2'), entry(3, 'k3'), entry(5, 'k5')] },
      ],
      4,
    );
    expect(merged.map((r) => `${r.container}:${r.line}`)).toEqual(['worker-1:k3', 'web-1:w4', 'worker-1:k5', 'web-1:w6']);
    expect(merged[3]).toEqual({ time: '2026-11-26T16:50:01.000Z', container: 'web-1', type: 'web', deployment: 3, stream: 'stderr', line: 'w6' });
  });

  test('lines with the same time keep the order their container printed them', () => {
    const merged = mergeBacklog([{ source: web, entries: [entry(1, 'a'), entry(1, 'b'), entry(1, 'c')] }], 10);
    expect(merged.map((r) => r.line)).toEqual(['a', 'b', 'c']);
  });

  test('sanitises control characters as deployment output is; tabs and colours pass', () => {
    expect(toRecord(web, entry(1, 'bell\u0007 nul\u0000 tab\t \u001b[32mgreen\u001b[0m')).line).toBe('bell\uFFFD nul\uFFFD tab\t \u001b[32mgreen\u001b[0m');
  });

  test('filters by type and by container name', () => {
    expect(matchesFilter(web, {})).toBe(true);
    expect(matchesFilter(web, { type: 'web' })).toBe(true);
    expect(matchesFilter(worker, { type: 'web' })).toBe(false);
    expect(matchesFilter(web, { ps: 'web-1' })).toBe(true);
    expect(matchesFilter(web, { ps: 'web-2' })).toBe(false);
    expect(matchesFilter(web, { type: 'worker', ps: 'web-1' })).toBe(false);
  });
});

describe('formatting', () => {
  const record: LogRecord = { ...web, time: '2026-11-26T16:50:01.123Z', stream: 'stdout', line: 'listening on 127.0.0.1:5000' };

  test('prefixes the time and the container', () => {
    expect(formatLogLine(record)).toBe('2026-11-26T16:50:01.123Z web-1: listening on 127.0.0.1:5000');
  });

  test('colours each container name its own way, the same each time', () => {
    const colors = new ContainerColors();
    const first = formatLogLine(record, colors);
    const other = formatLogLine({ ...record, container: 'worker-1' }, colors);
    expect(first).toBe('2026-11-26T16:50:01.123Z \u001b[36mweb-1\u001b[0m: listening on 127.0.0.1:5000');
    expect(other).toContain('\u001b[33mworker-1\u001b[0m');
    expect(formatLogLine(record, colors)).toBe(first);
  });
});

/** A container engine in memory: containers print lines, start and stop when the test says. */
class FakeEngine {
  private readonly containers = new Map<string, { info: ContainerInfo; entries: LogEntry[]; running: boolean }>();
  private readonly live = new Map<string, Set<{ onEntry: (e: LogEntry) => void; end: () => void }>>();
  private listener: ((event: ContainerEvent) => void) | undefined;
  private clock = 0;
  readonly reads: { id: string; options: LogReadOptions }[] = [];
  watching = false;

  add(id: string, source: LogSource, running = true): void {
    const labels = {
      'slipway.app': 'app',
      'slipway.container': source.container,
      'slipway.type': source.type ?? '',
      'slipway.deployment': String(source.deployment),
    };
    this.containers.set(id, { info: { id, name: `slipway-app-${source.container}`, labels, state: running ? 'running' : 'exited' }, entries: [], running });
  }

  print(id: string, line: string): void {
    const entry = { time: at(++this.clock), stream: 'stdout' as const, line };
    this.containers.get(id)!.entries.push(entry);
    for (const reader of this.live.get(id) ?? []) reader.onEntry(entry);
  }

  start(id: string): void {
    const c = this.containers.get(id)!;
    c.running = true;
    this.listener?.({ action: 'start', id, labels: c.info.labels });
  }

  stop(id: string): void {
    this.containers.get(id)!.running = false;
    this.endReads(id);
  }

  /** Ends the live reads of a container that runs (again): a quick restart's stop. */
  endReads(id: string): void {
    for (const reader of this.live.get(id) ?? []) reader.end();
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.containers.values()].filter((c) => Object.entries(labels).every(([k, v]) => c.info.labels[k] === v)).map((c) => c.info);
  }

  async readLogs(ref: ContainerRef, options: LogReadOptions, onEntry: (entry: LogEntry) => void, signal: AbortSignal): Promise<void> {
    this.reads.push({ id: ref.id, options });
    const c = this.containers.get(ref.id);
    if (!c) return;
    const after = options.after;
    const selected = after === undefined ? c.entries : c.entries.filter((e) => compareLogTimes(e.time, after) > 0);
    (options.tail === undefined ? selected : selected.slice(-options.tail)).forEach(onEntry);
    if (!options.follow || !c.running) return;
    await new Promise<void>((resolve) => {
      const readers = this.live.get(ref.id) ?? new Set();
      this.live.set(ref.id, readers);
      const reader = {
        onEntry,
        end: () => {
          readers.delete(reader);
          resolve();
        },
      };
      readers.add(reader);
      signal.addEventListener('abort', reader.end, { once: true });
    });
  }

  watch(_labels: Record<string, string>, onEvent: (event: ContainerEvent) => void): () => void {
    this.listener = onEvent;
    this.watching = true;
    return () => {
      this.listener = undefined;
      this.watching = false;
    };
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('openAppLogs', () => {
  test('reads the last lines of every container, merged; without follow it does not watch', async () => {
    const engine = new FakeEngine();
    engine.add('a', web);
    engine.add('b', worker, false);
    engine.print('a', 'web 1');
    engine.print('b', 'worker 1');
    engine.print('a', 'web 2');
    const logs = await openAppLogs(engine, { app: 'app', lines: 2, follow: false }, new AbortController().signal);
    expect(logs.backlog.map((r) => `${r.container}: ${r.line}`)).toEqual(['worker-1: worker 1', 'web-1: web 2']);
    expect(engine.reads.map((r) => r.options)).toEqual([
      { tail: 2, follow: false },
      { tail: 2, follow: false },
    ]);
    expect(engine.watching).toBe(false);
  });

  test('--type and --ps read only the matching containers', async () => {
    const engine = new FakeEngine();
    engine.add('a', web);
    engine.add('b', worker);
    engine.print('a', 'web 1');
    engine.print('b', 'worker 1');
    const signal = new AbortController().signal;
    const byType = await openAppLogs(engine, { app: 'app', lines: 10, follow: false, type: 'worker' }, signal);
    expect(byType.backlog.map((r) => r.line)).toEqual(['worker 1']);
    const byName = await openAppLogs(engine, { app: 'app', lines: 10, follow: false, ps: 'web-1' }, signal);
    expect(byName.backlog.map((r) => r.line)).toEqual(['web 1']);
    const none = await openAppLogs(engine, { app: 'app', lines: 10, follow: false, ps: 'web-9' }, signal);
    expect(none.backlog).toEqual([]);
  });

  test('following sends each new line once, picks up started and restarted containers, and stops on abort', async () => {
    const engine = new FakeEngine();
    engine.add('a', web);
    engine.print('a', 'before');
    const abort = new AbortController();
    const logs = await openAppLogs(engine, { app: 'app', lines: 10, follow: true }, abort.signal);
    expect(logs.backlog.map((r) => r.line)).toEqual(['before']);
    const seen: string[] = [];
    const following = logs.follow((r) => seen.push(`${r.container}: ${r.line}`));
    await settle();
    // Resumed after the backlog's last line: printed between the two reads, not repeated.
    expect(engine.reads.at(-1)).toEqual({ id: 'a', options: { follow: true, after: at(1) } });

    engine.print('a', 'live');
    engine.add('b', worker, false);
    engine.print('b', 'booting'); // printed before its start event arrives
    engine.start('b');
    await settle();
    engine.print('b', 'working');

    // A restart: the container stops (its read ends), prints nothing meanwhile, starts again.
    engine.stop('a');
    await settle();
    engine.start('a');
    await settle();
    engine.print('a', 'after restart');

    // A restart whose start event comes before its read ends is reread after it ends.
    engine.start('b');
    engine.endReads('b');
    await settle();
    await settle();
    engine.print('b', 'again');

    abort.abort();
    await following;
    expect(engine.watching).toBe(false);
    engine.print('a', 'too late');
    expect(seen).toEqual(['web-1: live', 'worker-1: booting', 'worker-1: working', 'web-1: after restart', 'worker-1: again']);
  });

  test('a container started while the backlog is read is followed from its first line', async () => {
    const engine = new FakeEngine();
    engine.add('a', web);
    const abort = new AbortController();
    const opened = openAppLogs(engine, { app: 'app', lines: 10, follow: true, type: 'worker' }, abort.signal);
    engine.add('b', worker, false);
    engine.print('b', 'early');
    engine.start('b');
    const logs = await opened;
    const seen: string[] = [];
    const following = logs.follow((r) => seen.push(r.line));
    await settle();
    engine.print('b', 'later');
    engine.print('a', 'not a worker');
    abort.abort();
    await following;
    expect([...logs.backlog.map((r) => r.line), ...seen]).toEqual(['early', 'later']);
  });
});
