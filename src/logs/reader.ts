import { LABEL } from '../deploy/containers.js';
import type { LogEntry, Runtime } from '../runtime/runtime.js';
import { compareLogTimes, matchesFilter, mergeBacklog, toRecord, type LogFilter, type LogRecord, type LogSource } from './merge.js';

export interface LogRequest extends LogFilter {
  app: string;
  /** How many of the latest lines to send first, over all the containers. */
  lines: number;
  follow: boolean;
}

export interface AppLogs {
  /** The last `lines` lines, oldest first. */
  backlog: LogRecord[];
  /**
   * With `follow`, emits each new line as it is printed, from every matching container
   * including those that start later, until the signal aborts. Without, resolves at once.
   */
  follow(emit: (record: LogRecord) => void): Promise<void>;
}

type LogRuntime = Pick<Runtime, 'listContainers' | 'readLogs' | 'watch'>;

interface Found {
  id: string;
  source: LogSource;
}

/**
 * Reads an app's containers' output: first the merged backlog, then (following) each line live.
 * Watching for container starts begins before the containers are listed, so a container that
 * starts in between is not missed; each live read resumes after the last line already read,
 * so nothing is sent twice.
 */
export async function openAppLogs(runtime: LogRuntime, request: LogRequest, signal: AbortSignal): Promise<AppLogs> {
  const appLabel = { [LABEL.app]: request.app };
  const startedEarly: Found[] = [];
  let onStart = (found: Found): void => void startedEarly.push(found);
  if (request.follow) {
    const stopWatching = runtime.watch(appLabel, (event) => {
      const source = sourceOf(event.labels, event.labels.name ?? event.id.slice(0, 12));
      if (event.action === 'start' && matchesFilter(source, request)) onStart({ id: event.id, source });
    });
    if (signal.aborted) stopWatching();
    else signal.addEventListener('abort', stopWatching, { once: true });
  }

  const listed: Found[] = (await runtime.listContainers(appLabel))
    .map((c) => ({ id: c.id, source: sourceOf(c.labels, c.name) }))
    .filter((c) => matchesFilter(c.source, request));
  const read = await Promise.all(
    listed.map(async (c) => {
      const entries: LogEntry[] = [];
      await runtime.readLogs({ id: c.id, name: c.source.container }, { tail: request.lines, follow: false }, (e) => entries.push(e), signal);
      return { ...c, entries };
    }),
  );
  const backlog = mergeBacklog(read, request.lines);

  return {
    backlog,
    async follow(emit) {
      if (!request.follow || signal.aborted) return;
      const live = new LiveReads(runtime, emit, signal);
      for (const c of read) live.resume(c, latest(c.entries));
      for (const c of startedEarly) live.read(c);
      onStart = (found) => live.read(found);
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  };
}

interface LiveRead {
  source: LogSource;
  /** The time of the last line sent: a new read starts after it. */
  after: string | undefined;
  active: boolean;
  /** The container started again while its previous read was still open. */
  again: boolean;
}

/** One live read per container at a time, reopened when the container starts again. */
class LiveReads {
  private readonly reads = new Map<string, LiveRead>();

  constructor(
    private readonly runtime: LogRuntime,
    private readonly emit: (record: LogRecord) => void,
    private readonly signal: AbortSignal,
  ) {}

  /** A container whose lines up to `after` were already sent. */
  resume(found: Found, after: string | undefined): void {
    this.reads.set(found.id, { source: found.source, after, active: false, again: false });
    this.read(found);
  }

  read(found: Found): void {
    let state = this.reads.get(found.id);
    if (!state) {
      state = { source: found.source, after: undefined, active: false, again: false };
      this.reads.set(found.id, state);
    }
    if (state.active) {
      state.again = true;
      return;
    }
    state.active = true;
    const current = state;
    const onEntry = (entry: LogEntry): void => {
      if (entry.time !== '' && (current.after === undefined || compareLogTimes(entry.time, current.after) > 0)) current.after = entry.time;
      this.emit(toRecord(current.source, entry));
    };
    const options = { follow: true, ...(current.after === undefined ? {} : { after: current.after }) };
    this.runtime
      .readLogs({ id: found.id, name: current.source.container }, options, onEntry, this.signal)
      // The engine went away: this read ends; the watch reconnects, and a start reopens it.
      .catch(() => undefined)
      .finally(() => {
        current.active = false;
        if (current.again && !this.signal.aborted) {
          current.again = false;
          this.read(found);
        }
      });
  }
}

function sourceOf(labels: Record<string, string>, fallbackName: string): LogSource {
  return {
    container: labels[LABEL.container] ?? fallbackName,
    type: labels[LABEL.type] ?? null,
    deployment: Number(labels[LABEL.deployment]) || null,
  };
}

function latest(entries: LogEntry[]): string | undefined {
  let max: string | undefined;
  for (const e of entries) if (e.time !== '' && (max === undefined || compareLogTimes(e.time, max) > 0)) max = e.time;
  return max;
}
