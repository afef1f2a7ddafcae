import { Transform, type TransformCallback } from 'node:stream';
import type { OutputChunk } from './runtime.js';

/**
 * Splits Docker's multiplexed attach stream (8-byte headers: stream type, 3 zero bytes, length)
 * into stdout and stderr chunks, as an object stream, so that a slow reader slows the container
 * down instead of filling memory (unlike dockerode's demuxStream, which ignores backpressure).
 */
export class DockerDemuxer extends Transform {
  private buffered: Buffer = Buffer.alloc(0);

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 8) {
      const type = this.buffered.readUInt8(0);
      const length = this.buffered.readUInt32BE(4);
      if (this.buffered.length < 8 + length) break;
      const data = Buffer.from(this.buffered.subarray(8, 8 + length));
      this.buffered = this.buffered.subarray(8 + length);
      // Type 0 (stdin) is never sent back; anything else unknown is shown rather than lost.
      if (data.length > 0) this.push({ stream: type === 2 ? 'stderr' : 'stdout', data } satisfies OutputChunk);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A stream cut mid-frame: what arrived of the last payload is still output.
    if (this.buffered.length > 8) this.push({ stream: this.buffered.readUInt8(0) === 2 ? 'stderr' : 'stdout', data: this.buffered.subarray(8) });
    callback();
  }
}

/** A terminal's raw output stream as stdout chunks, with the same backpressure as DockerDemuxer. */
export class TerminalOutput extends Transform {
  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length > 0) this.push({ stream: 'stdout', data: chunk } satisfies OutputChunk);
    callback();
  }
}
