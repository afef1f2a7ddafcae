import type { Duplex, Readable, Writable } from 'node:stream';
import { decodeExit, encodeData, encodeFrame, encodeResize, FRAME, FrameDecoder, type Frame, type TerminalSize } from '../run/protocol.js';
import { CliError, sentence } from './errors.js';

export interface AttachedIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** The local terminal of a run that got one: its size changes go to the command's. */
  terminal?: AttachedTerminal;
}

export interface AttachedTerminal {
  size(): TerminalSize;
  /** Calls `listener` whenever the size changes, until the returned function is called. */
  onResize(listener: () => void): () => void;
}

/**
 * The client side of an attached `slipway run`, over its upgraded connection: `io.stdin` goes
 * to the command (its end too), the command's output to `io.stdout` and `io.stderr`. Resolves
 * with the command's exit code; throws a CliError when the server reports a failure or the
 * connection ends first.
 */
export function attach(socket: Duplex, head: Buffer, io: AttachedIO): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: number | CliError): void => {
      if (settled) return;
      settled = true;
      io.stdin.off('data', onInput);
      io.stdin.off('end', onInputEnd);
      io.stdin.pause();
      stopResizing();
      socket.destroy();
      if (typeof outcome === 'number') resolve(outcome);
      else reject(outcome);
    };

    const show = (out: Writable, payload: Buffer): void => {
      // A slow terminal or pipe slows the command down rather than piling up output here.
      if (!out.write(payload)) {
        socket.pause();
        out.once('drain', () => socket.resume());
      }
    };
    const take = (frame: Frame): void => {
      if (frame.type === FRAME.stdout) show(io.stdout, frame.payload);
      else if (frame.type === FRAME.stderr) show(io.stderr, frame.payload);
      else if (frame.type === FRAME.exit) finish(decodeExit(frame.payload));
      else if (frame.type === FRAME.error) finish(new CliError(sentence(frame.payload.toString('utf8'))));
      else finish(new CliError('The server sent a frame a client should not get; use a slipway CLI of the same version as the server.'));
    };
    const decoder = new FrameDecoder();
    const onData = (chunk: Buffer): void => {
      try {
        for (const frame of decoder.push(chunk)) if (!settled) take(frame);
      } catch (error) {
        finish(new CliError(`The server's answer is garbled (${(error as Error).message}); use a slipway CLI of the same version as the server.`));
      }
    };
    const lost = (): void => finish(new CliError('The connection to Slipway closed before the command ended; check the server, then run it again.'));
    socket.on('data', onData);
    socket.on('end', lost);
    socket.on('close', lost);
    socket.on('error', lost);

    const onInput = (chunk: Buffer): void => {
      let more = true;
      for (const frame of encodeData(FRAME.stdin, chunk)) more = socket.write(frame);
      if (!more) {
        io.stdin.pause();
        socket.once('drain', () => io.stdin.resume());
      }
    };
    const onInputEnd = (): void => {
      if (!settled) socket.write(encodeFrame(FRAME.eof));
    };
    io.stdin.on('data', onInput);
    io.stdin.on('end', onInputEnd);
    const stopResizing =
      io.terminal?.onResize(() => {
        if (!settled) socket.write(encodeResize(io.terminal!.size()));
      }) ?? ((): void => undefined);

    if (head.length > 0) onData(head);
  });
}
