import type { OutputChunk } from '../../src/runtime/runtime.js';
import { DockerDemuxer } from '../../src/runtime/demux.js';

function dockerFrame(type: number, text: string): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([header, Buffer.from(text)]);
}

async function demux(chunks: Buffer[]): Promise<[string, string][]> {
  const demuxer = new DockerDemuxer();
  for (const chunk of chunks) demuxer.write(chunk);
  demuxer.end();
  const out: [string, string][] = [];
  for await (const { stream, data } of demuxer as AsyncIterable<OutputChunk>) out.push([stream, data.toString()]);
  return out;
}

describe('DockerDemuxer', () => {
  test("splits Docker's multiplexed stream into stdout and stderr, in order, however it is cut", async () => {
    const bytes = Buffer.concat([dockerFrame(1, 'out 1\n'), dockerFrame(2, 'err\n'), dockerFrame(1, 'out 2\n')]);
    const expected = [
      ['stdout', 'out 1\n'],
      ['stderr', 'err\n'],
      ['stdout', 'out 2\n'],
    ];
    expect(await demux([bytes])).toEqual(expected);
    expect(await demux([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  test('a stream cut mid-frame still delivers what arrived', async () => {
    const frame = dockerFrame(2, 'partial line');
    expect(await demux([frame.subarray(0, 12)])).toEqual([['stderr', 'part']]);
  });
});
