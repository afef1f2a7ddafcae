/**
 * The framing `slipway run` speaks over its upgraded connection, both ways: one type byte, the
 * payload's length (4 bytes, big-endian), the payload. Shared by the server and the CLI.
 *
 * Client to server: `stdin` (bytes for the command), `eof` (no more input, once), `resize`
 * (rows and columns, 2 bytes each, of a run with a terminal; 0 × 0 is an unknown size, ignored).
 * Server to client: `stdout`, `stderr`, then exactly one of `exit` (4-byte signed code) or
 * `error` (a sentence: the server could not see the command through); the server then closes.
 * With a terminal, all output comes as `stdout`, as a terminal shows it.
 */
import type { TerminalSize } from '../runtime/runtime.js';

export type { TerminalSize };

export const FRAME = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  exit: 3,
  eof: 4,
  error: 5,
  resize: 6,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

/** The HTTP `Upgrade` token of the protocol. */
export const RUN_PROTOCOL = 'slipway-run';

/** Larger frames are refused: senders split their data well below this. */
export const MAX_PAYLOAD = 1024 * 1024;

const HEADER = 5;
const TYPES = new Set<number>(Object.values(FRAME));

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export function encodeFrame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (data.length > MAX_PAYLOAD) throw new ProtocolError(`a ${data.length}-byte frame is over the ${MAX_PAYLOAD}-byte limit; split it`);
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(data.length, 1);
  return Buffer.concat([header, data]);
}

/** Data frames of any size: split into payloads the receiver accepts. */
export function encodeData(type: typeof FRAME.stdin | typeof FRAME.stdout | typeof FRAME.stderr, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_PAYLOAD) frames.push(encodeFrame(type, data.subarray(offset, offset + MAX_PAYLOAD)));
  return frames;
}

export function encodeExit(code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeInt32BE(code, 0);
  return encodeFrame(FRAME.exit, payload);
}

export function decodeExit(payload: Buffer): number {
  if (payload.length !== 4) throw new ProtocolError(`an exit frame carries 4 bytes, not ${payload.length}`);
  return payload.readInt32BE(0);
}

/** A TERM value both ends accept: a terminal type's name, nothing a shell would read more into. */
export const TERM_NAME = /^[A-Za-z0-9._+-]{1,64}$/;

/** The largest size a terminal can announce (the ioctl's 16-bit fields). */
export const MAX_TERMINAL_CELLS = 0xffff;

export function encodeResize({ rows, cols }: TerminalSize): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(rows, 0);
  payload.writeUInt16BE(cols, 2);
  return encodeFrame(FRAME.resize, payload);
}

export function decodeResize(payload: Buffer): TerminalSize {
  if (payload.length !== 4) throw new ProtocolError(`a resize frame carries 4 bytes, not ${payload.length}`);
  return { rows: payload.readUInt16BE(0), cols: payload.readUInt16BE(2) };
}

/** Turns the bytes of a connection, however they are split, back into frames. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  /** The frames `chunk` completes; throws ProtocolError on bytes that cannot be frames. */
  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    while (this.buffered.length >= HEADER) {
      const type = this.buffered.readUInt8(0);
      const length = this.buffered.readUInt32BE(1);
      if (!TYPES.has(type)) throw new ProtocolError(`unknown frame type ${type}; both ends must speak ${RUN_PROTOCOL}`);
      if (length > MAX_PAYLOAD) throw new ProtocolError(`a ${length}-byte frame is over the ${MAX_PAYLOAD}-byte limit`);
      if (this.buffered.length < HEADER + length) break;
      // A copy: the payload outlives the chunk it came in.
      frames.push({ type: type as FrameType, payload: Buffer.from(this.buffered.subarray(HEADER, HEADER + length)) });
      this.buffered = this.buffered.subarray(HEADER + length);
    }
    return frames;
  }

  /** Bytes of a frame that has not fully arrived. */
  get pending(): number {
    return this.buffered.length;
  }
}
