import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LineSplitter } from '../util/lines.js';
import type { LogEntry, LogReadOptions, OutputChunk } from './runtime.js';

type StreamName = LogEntry['stream'];

/** `2026-11-26T16:50:01.123456789Z ` at the start of every message when `timestamps` is on. */
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) /;

/** The longest timestamp prefix, with a little room; read as latin1 before decoding the rest. */
const TIMESTAMP_PREFIX_BYTES = 40;

interface StreamState {
  splitter: LineSplitter;
  /** The last message ended its line, so the next message starts a new one. */
  atLineStart: boolean;
  /** The time of the message the current line began in. */
  lineTime: string;
  /** The time of the latest message. */
  messageTime: string;
}

/**
 * Turns the messages of a Docker logs call made with `timestamps: true` (as `DockerDemuxer`
 * separates them) into lines with their time and stream. A message without its newline (Docker
 * cuts lines over 16 KiB into partial messages) is joined with the next one.
 */
export class DockerLogDecoder {
  private readonly streams: Record<StreamName, StreamState>;

  constructor(private readonly onEntry: (entry: LogEntry) => void) {
    this.streams = { stdout: this.state('stdout'), stderr: this.state('stderr') };
  }

  write(chunk: OutputChunk): void {
    const state = this.streams[chunk.stream];
    const stamp = TIMESTAMP.exec(chunk.data.subarray(0, TIMESTAMP_PREFIX_BYTES).toString('latin1'));
    const text = stamp ? chunk.data.subarray(stamp[0].length) : chunk.data;
    if (stamp) state.messageTime = stamp[1]!;
    if (state.atLineStart) state.lineTime = state.messageTime;
    if (text.length === 0) return;
    state.splitter.write(text);
    state.atLineStart = text[text.length - 1] === 0x0a;
  }

  /** Emits the unfinished last line of each stream. */
  end(): void {
    this.streams.stdout.splitter.end();
    this.streams.stderr.splitter.end();
  }

  private state(stream: StreamName): StreamState {
    const state: StreamState = {
      atLineStart: true,
      lineTime: '',
      messageTime: '',
      splitter: new LineSplitter((line) => {
        this.onEntry({ time: state.lineTime, stream, line });
        // Whatever follows in the same message starts a line at that message's time.
        state.lineTime = state.messageTime;
      }),
    };
    return state;
  }
}

/**
 * The same for a container with a terminal (`slipway run` from one): Docker keeps its output as
 * one stream of lines, each `<timestamp> <text>\r\n`, without the multiplexing headers.
 */
export class TerminalLogDecoder {
  private time = '';
  private readonly splitter = new LineSplitter((line) => {
    const stamp = TIMESTAMP.exec(line);
    if (stamp) this.time = stamp[1]!;
    this.onEntry({ time: this.time, stream: 'stdout', line: stamp ? line.slice(stamp[0].length) : line });
  });

  constructor(private readonly onEntry: (entry: LogEntry) => void) {}

  write(chunk: OutputChunk): void {
    this.splitter.write(chunk.data);
  }

  end(): void {
    this.splitter.end();
  }
}

/**
 * Docker's `since` (seconds, with nanoseconds) for "strictly after this entry's time": Docker
 * includes lines at exactly `since`, so one nanosecond is added.
 */
export function sinceAfter(time: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) throw new Error(`"${time}" is not an RFC 3339 time`);
  let seconds = Date.parse(`${match[1]}${match[3]}`) / 1000;
  if (Number.isNaN(seconds)) throw new Error(`"${time}" is not an RFC 3339 time`);
  let nanos = Number((match[2] ?? '').padEnd(9, '0')) + 1;
  if (nanos === 1e9) {
    seconds += 1;
    nanos = 0;
  }
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** The options of a Docker logs call (a container's or a service's) for a read, timestamps on. */
export interface LogQuery {
  stdout: true;
  stderr: true;
  timestamps: true;
  tail?: number;
  since?: string;
  follow: boolean;
  abortSignal: AbortSignal;
}

/**
 * Reads one Docker logs call into `decoder`: `logs` makes the call, which answers one buffer
 * without follow, and with follow a stream that ends when its source stops; `frames` separates the
 * engine's messages (multiplexed frames, or a terminal's one raw stream).
 */
export async function readDockerLogs(
  logs: (query: LogQuery) => Promise<unknown>,
  options: LogReadOptions,
  frames: Transform,
  decoder: { write(chunk: OutputChunk): void },
  signal: AbortSignal,
): Promise<void> {
  // Only the options given: an undefined one would reach the engine as an empty parameter.
  const query: LogQuery = {
    stdout: true,
    stderr: true,
    timestamps: true,
    ...(options.tail === undefined ? {} : { tail: options.tail }),
    ...(options.after === undefined ? {} : { since: sinceAfter(options.after) }),
    follow: options.follow,
    abortSignal: signal,
  };
  const answer = await logs(query);
  const source = options.follow ? (answer as NodeJS.ReadableStream) : Readable.from([answer as Buffer]);
  const decode = new Writable({
    objectMode: true,
    write: (chunk: OutputChunk, _encoding, callback) => {
      decoder.write(chunk);
      callback();
    },
  });
  await pipeline(source, frames, decode, { signal });
}
