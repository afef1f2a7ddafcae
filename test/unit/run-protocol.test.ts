import {
  decodeExit,
  decodeResize,
  encodeData,
  encodeExit,
  encodeFrame,
  encodeResize,
  FRAME,
  FrameDecoder,
  MAX_PAYLOAD,
  ProtocolError,
} from '../../src/run/protocol.js';

describe('slipway run framing', () => {
  test('frames come back whole however the bytes are split, one byte at a time included', () => {
    const bytes = Buffer.concat([encodeFrame(FRAME.stdout, 'out\n'), encodeFrame(FRAME.stderr, 'err\n'), encodeFrame(FRAME.eof), encodeExit(3)]);
    const decoder = new FrameDecoder();
    const frames = [...bytes].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.type, f.payload.toString()])).toEqual([
      [FRAME.stdout, 'out\n'],
      [FRAME.stderr, 'err\n'],
      [FRAME.eof, ''],
      [FRAME.exit, '\u0000\u0000\u0000\u0003'],
    ]);
    expect(decoder.pending).toBe(0);
    expect(decodeExit(frames[3]!.payload)).toBe(3);
  });

  test('several frames in one chunk, and a frame cut across chunks', () => {
    const bytes = Buffer.concat([encodeFrame(FRAME.stdin, 'a'), encodeFrame(FRAME.stdin, 'bc'), encodeFrame(FRAME.stdin, 'def')]);
    const decoder = new FrameDecoder();
    const first = decoder.push(bytes.subarray(0, 10));
    expect(first.map((f) => f.payload.toString())).toEqual(['a']);
    expect(decoder.pending).toBe(4);
    expect(decoder.push(bytes.subarray(10)).map((f) => f.payload.toString())).toEqual(['bc', 'def']);
  });

  test('payloads are copies: the chunk they came in can be reused', () => {
    const chunk = encodeFrame(FRAME.stdout, 'keep');
    const [frame] = new FrameDecoder().push(chunk);
    chunk.fill(0);
    expect(frame!.payload.toString()).toBe('keep');
  });

  test('exit codes keep their sign', () => {
    expect(decodeExit(new FrameDecoder().push(encodeExit(137))[0]!.payload)).toBe(137);
    expect(decodeExit(new FrameDecoder().push(encodeExit(-1))[0]!.payload)).toBe(-1);
    expect(() => decodeExit(Buffer.from([1]))).toThrow('an exit frame carries 4 bytes, not 1');
  });

  test('a terminal size goes as rows and columns, up to 65535 each', () => {
    const frames = new FrameDecoder().push(Buffer.concat([encodeResize({ rows: 40, cols: 120 }), encodeResize({ rows: 65535, cols: 1 })]));
    expect(frames.map((f) => f.type)).toEqual([FRAME.resize, FRAME.resize]);
    expect(frames.map((f) => decodeResize(f.payload))).toEqual([
      { rows: 40, cols: 120 },
      { rows: 65535, cols: 1 },
    ]);
    expect(() => decodeResize(Buffer.from([0, 1]))).toThrow('a resize frame carries 4 bytes, not 2');
  });

  test('large data is split into frames the receiver accepts, and joins back', () => {
    const data = Buffer.alloc(MAX_PAYLOAD * 2 + 10, 7);
    const frames = encodeData(FRAME.stdin, data);
    expect(frames).toHaveLength(3);
    const decoded = new FrameDecoder().push(Buffer.concat(frames));
    expect(Buffer.concat(decoded.map((f) => f.payload)).equals(data)).toBe(true);
    expect(encodeData(FRAME.stdin, Buffer.alloc(0))).toEqual([]);
  });

  test('bytes that are not frames are refused, not buffered forever', () => {
    expect(() => new FrameDecoder().push(Buffer.from('HTTP/1.1 200 OK\r\n'))).toThrow(ProtocolError);
    const huge = Buffer.alloc(5);
    huge.writeUInt8(FRAME.stdin, 0);
    huge.writeUInt32BE(MAX_PAYLOAD + 1, 1);
    expect(() => new FrameDecoder().push(huge)).toThrow(`a ${MAX_PAYLOAD + 1}-byte frame is over the ${MAX_PAYLOAD}-byte limit`);
    expect(() => encodeFrame(FRAME.stdout, Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(ProtocolError);
  });
});
